"""Small multilayer perceptrons shared by the ODE functions, encoders and readouts."""

from __future__ import annotations

from torch import nn

__all__ = ["mlp", "ACTIVATIONS", "init_weights"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


def mlp(
    in_dim: int, out_dim: int, units: int = 100, depth: int = 1, activation: str = "tanh"
) -> nn.Sequential:
    """``depth`` hidden layers of width ``units``; ``depth=0`` gives a single Linear layer."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} unknown; choose one of {sorted(ACTIVATIONS)}.")
    if depth < 0 or units < 1:
        raise ValueError(f"depth must be >= 0 and units >= 1, got depth={depth}, units={units}.")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, units), ACTIVATIONS[activation]()]
        d = units
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, std: float = 0.1) -> None:
    """The published initialisation: Linear weights N(0, std), zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
