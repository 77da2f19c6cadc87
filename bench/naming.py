"""Names and orders shared by the suite and its torch-free tools (the report runs without torch)."""

MODEL_ORDER = ("chapter_net", "lenet", "cifar_net")  # as registered in reference_models.MODELS
PHASES = ("forward", "inference", "backward", "step", "train_step")
