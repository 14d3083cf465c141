"""Each command's work as a library function of typed configs (the CLI is a table over these).

    collect   CollectRun   -> collect_to_file
    train     TrainRun     -> train_and_evaluate      (resume: TrainRun(resume=DIR))
    sweep     SweepRun     -> sweep_and_choose
    evaluate  EvaluateRun  -> evaluate_checkpoint     (an in-memory model: evaluate_model)
    predict   PredictRun   -> predict_to_file
    mbrl      MbrlRun      -> model_based_rl          (defaults: the environment's recommended settings)
    dream     DreamRun     -> dream

A run configuration nests the library's configs (`ModelConfig`, `TrainConfig`, `MBRLConfig`,
`DreamConfig`); `common` holds what runs share (held-out splits, checkpoints and resume). The
modules import JAX only inside their functions, so building the CLI's parser stays fast.
"""
