"""vla_ros.safety: SAFE failure detection for VLA policies.

Pieces: `rollouts` (dataset format + loader), `synthetic` (test rollouts), `detectors`
(SAFE-MLP, SAFE-LSTM and baselines behind one streaming interface), `conformal`
(functional conformal band), `metrics`, `checkpoint`, `monitor` (detector + band + alarm
state, what the node runs) and `experiment` (the train/calibrate/evaluate protocol).
"""
