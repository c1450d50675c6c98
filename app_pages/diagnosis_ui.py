"""Training page: what a run shows beyond its curves (being built, see issue 5)."""


def during_training(job, view) -> None:
    """Views shown under the charts while a run goes and after it ends."""


def after_training(job) -> None:
    """Views shown once a run has a trained model."""
