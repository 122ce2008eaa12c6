"""DANN as a zoo method: one config selects the regime (source only, or domain-adversarial).

The trained-on-target upper bound is the source-only regime trained on the target's own
labelled training split (``--data source=<target set>``): the DANN regime never receives a
target label, because its ``target`` role is unlabelled and the trainer drops those labels.

Example::

    zoo train dann --data source=mnistm --data target=digits --steps 1000 --out runs/dann
    zoo train dann --data source=mnistm --set regime=source_only --steps 1000 --out runs/src
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pydantic
import torch
import torch.nn.functional as F

from zoo import data
from zoo.data import adapt_images, check_image_batch
from zoo.errors import ConfigError, DataError
from zoo.interfaces import Batch, DataSpec, Method, MethodConfig, inference, starting_afresh

from .model import NUM_CLASSES, CNNModel, dann_coefficient, reverse_gradient

__all__ = ["DANNConfig", "DANN", "DANNLearningRate", "check_class_labels"]


class DANNConfig(MethodConfig):
    """DANN's hyper-parameters; the defaults are the seed's network and the DANN paper's optimisation (SGD, annealed lr, lambda_p), with Nesterov momentum where the paper has plain (nesterov=false)."""

    regime: Literal["dann", "source_only"] = pydantic.Field("dann", description="dann: labelled source + unlabelled target; source_only: no domain loss")
    backbone: str = pydantic.Field("cnn", description="'cnn' (the seed's CNNModel) or a timm model name, randomly initialised")
    backbone_weights: str | None = pydantic.Field(None, description="local .safetensors file of the timm backbone's pretrained weights (read when training starts)")
    image_size: int = pydantic.Field(28, ge=16, le=1024, description="side of the square input; both domains are resized to it")
    channels: Literal[1, 3] = pydantic.Field(3, description="input channels; gray images are repeated to 3, RGB turned to luma for 1")
    n_classes: int = pydantic.Field(NUM_CLASSES, ge=2, le=100_000, description="classes of the labelled source data (the seed's 10 digits; a folder: its class subfolders)")
    optimizer: Literal["adam", "sgd"] = pydantic.Field("sgd", description="sgd with momentum, as the DANN paper (see nesterov); adam as the seed's reference code")
    lr: float = pydantic.Field(0.01, gt=0, description="initial learning rate (the paper's 0.01 for SGD; 1e-3 suits Adam)")
    momentum: float = pydantic.Field(0.9, ge=0, lt=1, description="SGD momentum (sgd only)")
    nesterov: bool = pydantic.Field(True, description="Nesterov momentum (timm's 'sgd': what the shipped models and the table used); false: the paper's plain momentum (sgd only)")
    weight_decay: float = pydantic.Field(0.0, ge=0)
    lr_schedule: Literal["constant", "dann"] = pydantic.Field("dann", description="dann: lr / (1 + 10 p)^0.75, p = step / steps (the paper's annealing)")
    coefficient_schedule: Literal["dann", "constant"] = pydantic.Field("dann", description="dann: lambda_p = 2 / (1 + exp(-gamma p)) - 1; constant: coefficient_max throughout")
    coefficient_max: float = pydantic.Field(1.0, ge=0, description="scale of the gradient-reversal coefficient")
    coefficient_gamma: float = pydantic.Field(10.0, gt=0, description="gamma of the paper's lambda_p schedule")
    domain_weight: float = pydantic.Field(1.0, ge=0, description="weight of the domain loss beside the class loss")

    @pydantic.model_validator(mode="after")
    def _momentum_for_nesterov(self) -> DANNConfig:
        if self.optimizer == "sgd" and self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=true needs momentum > 0; set nesterov=false for plain SGD without momentum")
        return self


class DANNLearningRate:
    """The DANN paper's learning-rate annealing lr_p = lr / (1 + alpha p)^beta, p = step / total steps."""

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, alpha: float = 10.0, beta: float = 0.75) -> None:
        self.optimizer, self.total_steps, self.alpha, self.beta = optimizer, max(int(total_steps), 1), alpha, beta
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]

    def step_update(self, step: int) -> None:
        """Set every parameter group's lr for the step after `step`."""
        p = min(step / self.total_steps, 1.0)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base / (1.0 + self.alpha * p) ** self.beta

    def state_dict(self) -> dict[str, Any]:
        """Return what resuming needs: the base lrs and the schedule's constants."""
        return {"base_lrs": list(self.base_lrs), "total_steps": self.total_steps, "alpha": self.alpha, "beta": self.beta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict`."""
        self.base_lrs = [float(v) for v in state["base_lrs"]]
        self.total_steps, self.alpha, self.beta = int(state["total_steps"]), float(state["alpha"]), float(state["beta"])


def check_class_labels(labels: torch.Tensor | None, what: str, n_classes: int = NUM_CLASSES) -> None:
    """Raise a DataError naming `what` unless `labels` lie in 0..n_classes-1 (the seed's 10 digits by default): zoo.data's check."""
    data.check_class_labels(labels, what, n_classes)


class DANN(Method):
    """Domain-adversarial neural network (Ganin & Lempitsky 2015) with the seed report's CNNModel."""

    name = "dann"
    Config: ClassVar[type[DANNConfig]] = DANNConfig
    capabilities = frozenset({"predict"})
    image_methods = ("domain_predict", "features")  # the shipped domain classifier serves domain_predict
    #: The seed's network is already small (257k parameters): the contract suite runs it as is.
    test_config: ClassVar[dict[str, Any]] = {}
    #: Target (and source) test accuracy; the target and source sets come from the entry's `data`.
    default_evaluation: ClassVar[dict[str, dict[str, Any]]] = {"adaptation": {}}
    predict_chunk: ClassVar[int] = 1024
    config: DANNConfig

    def __init__(self, config: DANNConfig | dict[str, Any] | None = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        c = self.config
        # the pretrained backbone file matters only for a fresh training run; a loaded, resumed or branched model gets its own weights
        pretrained = c.backbone_weights if training and starting_afresh() else None
        self.network = CNNModel(c.channels, c.image_size, c.backbone, pretrained, c.n_classes)
        self.total_steps: int | None = None

    # ---- training -------------------------------------------------------------------------------
    def data_spec(self) -> DataSpec:
        """Return labelled source images (and unlabelled target images for DANN) at image_size, with channels."""
        roles = ("source",) if self.config.regime == "source_only" else ("source", "target")
        return DataSpec(image_size=self.config.image_size, channels=self.config.channels, labels=True, roles=roles, unlabelled_roles=("target",),
                        num_classes=self.config.n_classes)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return one optimizer over the whole network (timm's factory)."""
        import timm.optim  # training only, see zoo.gan

        c = self.config
        if c.optimizer == "sgd":  # timm's "sgd" is Nesterov's; its "momentum" the plain momentum of the DANN paper
            opt, extra = ("sgd" if c.nesterov else "momentum"), {"momentum": c.momentum}
        else:
            opt, extra = c.optimizer, {}
        return {"network": timm.optim.create_optimizer_v2(self.network, opt=opt, lr=c.lr, weight_decay=c.weight_decay, **extra)}

    @property
    def uses_run_length(self) -> bool:
        """Return True where the lr annealing runs or the reversal coefficient follows the run's progress."""
        return bool(self.schedulers) or (self.config.regime == "dann" and self.config.coefficient_schedule != "constant")

    def configure_schedulers(self, total_steps: int) -> dict[str, Any]:
        """Remember the run's length (the coefficient schedule needs it) and return the lr annealing, if any."""
        self.total_steps = int(total_steps)
        if self.config.lr_schedule == "dann":
            return {"network": DANNLearningRate(self.optimizers["network"], total_steps)}
        return {}

    def coefficient(self, step: int) -> float:
        """Return the gradient-reversal coefficient at `step` (the paper's lambda_p by default)."""
        c = self.config
        if c.coefficient_schedule == "constant":
            return c.coefficient_max
        if self.total_steps is None:
            raise ConfigError(f"method {self.name!r}: the reversal coefficient follows the run's progress, so call configure_schedulers(total_steps) before train_step.")
        return c.coefficient_max * dann_coefficient(step / max(self.total_steps, 1), c.coefficient_gamma)

    def train_step(self, batch: Batch | dict[str, Batch], step: int) -> dict[str, float]:
        """One update on the source class loss (plus the reversed domain loss for DANN); returns losses and batch accuracies."""
        source = batch["source"] if isinstance(batch, dict) else batch
        if source.y is None:
            raise DataError("DANN's source batch has no labels: the source set must be labelled (a dataset with class labels).")
        check_class_labels(source.y, "the source set", self.config.n_classes)
        if self.config.regime == "source_only":
            log_probs = self.network.class_classifier(self.network.features(source.x)).float()
            loss = F.nll_loss(log_probs, source.y)
            self.optimize("network", loss)
            return {"loss": loss.detach(), "loss_class": loss.detach(), "acc_source": (log_probs.argmax(1) == source.y).float().mean()}

        target = batch["target"]
        n_source = len(source)
        coefficient = self.coefficient(step)
        features = self.network.features(torch.cat([source.x, target.x]))
        # the class head sees labelled source features only; the domain head sees both, through the reversal
        class_lp = self.network.class_classifier(features[:n_source]).float()
        domain_lp = self.network.domain_classifier(reverse_gradient(features, coefficient)).float()
        domains = torch.cat([torch.zeros(n_source, dtype=torch.long), torch.ones(len(target), dtype=torch.long)]).to(domain_lp.device)
        loss_class = F.nll_loss(class_lp, source.y)
        loss_domain = F.nll_loss(domain_lp, domains)
        loss = loss_class + self.config.domain_weight * loss_domain
        self.optimize("network", loss)
        return {
            "loss": loss.detach(),
            "loss_class": loss_class.detach(),
            "loss_domain": loss_domain.detach(),
            "coefficient": coefficient,
            "acc_source": (class_lp.argmax(1) == source.y).float().mean(),
            "acc_domain": (domain_lp.argmax(1) == domains).float().mean(),
        }

    # ---- inference ------------------------------------------------------------------------------
    def _in_chunks(self, images: torch.Tensor, head: str) -> torch.Tensor:
        check_image_batch(images, f"model {self.zoo_name!r}")  # non-empty, (N, C, H, W), uint8 or float in [0, 1]
        outs = []
        with inference(self):
            for i in range(0, images.shape[0], self.predict_chunk):
                chunk = images[i : i + self.predict_chunk].to(self.device)
                x = adapt_images(chunk, self.config.image_size, self.config.channels).to(next(self.parameters()).dtype)  # a .half() model's
                f = self.network.features(x)
                outs.append((getattr(self.network, head)(f) if head else f).float())
        return torch.cat(outs)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Return the predicted digit (int64, N) of each image (uint8 or float in [0, 1], N x 1|3 x H x W)."""
        return self._in_chunks(images, "class_classifier").argmax(1)

    def domain_predict(self, images: torch.Tensor) -> torch.Tensor:
        """Return the domain classifier's guess (0 source, 1 target) for each image, int64 (N,)."""
        return self._in_chunks(images, "domain_classifier").argmax(1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Return the feature extractor's flattened output (N, width) for each image, float32."""
        return self._in_chunks(images, "")

