#!/usr/bin/env bash
# qa ask from the shell, PyTorch vs fp32 ONNX embedder: wall and CPU seconds (GNU time), alternating.
cd "$(dirname "$0")/.."
export QA_CORPUS=${QA_CORPUS:-/tmp/qa14/corpus}  # a copy of corpus/ indexed with the default (onnx) into /tmp/qa14/index
uptime
nice -n 15 .venv/bin/qa index --embed-backend torch --index /tmp/qa14/index-torch >/dev/null 2>&1
for r in 1 2 3; do
  for b in torch onnx; do
    idx=/tmp/qa14/index; [ $b = torch ] && idx=/tmp/qa14/index-torch
    /usr/bin/time -f "$b round$r wall=%e user=%U sys=%S" nice -n 15 .venv/bin/qa ask --embed-backend $b --index $idx "When did the AHKFTA enter into force?" > /tmp/askcpu.$b.$r.out 2>> /tmp/askcpu.log
    grep -q "Sources:" /tmp/askcpu.$b.$r.out || echo "$b round$r: no sources" >> /tmp/askcpu.log
  done
done
uptime
