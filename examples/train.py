"""A small example task: "train" a model for a few epochs and report its metrics."""

from __future__ import annotations

from interactive_ext import interactive


@interactive(max_idle_seconds=120)  # a short wait: nobody attached, it runs in 2 min
def train(epochs: int = 3, lr: float = 0.1) -> dict[str, float]:
    """Fake training: the loss goes down with every epoch; a JSON-able dict of metrics."""
    loss = 1.0
    for _ in range(epochs):
        loss *= 1.0 - lr
    return {"epochs": epochs, "lr": lr, "loss": round(loss, 6)}


if __name__ == "__main__":
    import json

    print(json.dumps(train()))
