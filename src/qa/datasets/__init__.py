"""Public evaluation sets nobody on the project wrote: SQuAD 2.0, NFCorpus (BEIR) and HaluEval QA.

`qa eval --dataset NAME` (`qa.datasets.runner`) turns one into a cached corpus folder and index, runs its
questions through the QA object the app uses, and reports beside the published numbers. One module per set
(`squad2`, `nfcorpus`, `halueval`) reads the data and scores it; `scores` holds the metrics as pure functions.
"""

from qa.datasets.base import Dataset, DatasetError, parse_dataset

__all__ = ["Dataset", "DatasetError", "parse_dataset"]
