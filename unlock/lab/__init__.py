"""Evaluation and training, apart from the app: metrics (one FAR function), data sets
(LFW, webcam videos), degradations and attack simulation, the embedding cache,
benchmarks, and the unlock network's training. Nothing in the app imports this package."""
