"""Settings of the EDGE hashed (conditional) mutual-information estimator.

Kept apart from the estimator so that the hashing and counting modules can read the
settings without importing the public functions. The defaults are described once, on
:class:`EdgeOptions`; docs/method.md describes the estimator and its readings.
"""

from dataclasses import dataclass
from typing import Literal

from snacs.errors import ConfigError

Method = Literal["direct", "chain", "residual"]
Combine = Literal["median", "average"]
ActivationPhi = Literal["act", "act_sq", "exp_act"] | None
ResidualMi = Literal["canonical", "joint"]

METHODS = ("direct", "chain", "residual")
COMBINES = ("median", "average")
ACTIVATION_PHIS = (None, "act", "act_sq", "exp_act")
RESIDUAL_MIS = ("canonical", "joint")
# Readings whose estimates get the null correction unless ``debias`` says otherwise.
NULL_CORRECTED = ("direct", "residual")

# Every (conditional) log-ratio is clipped below at this value, as in the reference
# code; it keeps "no evidence of dependence" cells slightly positive instead of letting
# sampling noise in empty-ish cells cancel real dependence elsewhere.
LOWER_CLIP_BITS = 0.001


@dataclass(frozen=True)
class EdgeOptions:
    """How EDGE hashes, counts and combines.

    Every field defaults to the reference EDGE code (v4.4.1) and the published SNACS,
    except ``debias`` (our null correction, on for the direct and residual readings) and
    ``normalize_epsilon`` (off). The SNACS pruner and the speed study take these
    defaults as they are, so a plain ``edge_cmi_matrix(...)`` call computes what they do.

    Attributes:
        method: ``"direct"`` (default, the published SNACS reading) hashes X, Y and Z and
            estimates I(X;Y|Z) from the conditional dependence graph in one pass
            (reading A); ``"chain"`` uses I(X;[Y,Z]) - I(X;Z) with two EDGE estimates,
            clipped at 0 (reading B); ``"residual"`` partials Z out of X and Y by ridge
            least squares and estimates the residuals' MI (our reading C).
        ensemble_size: number L of base estimators (bandwidths) in the ensemble.
        bandwidth_range: (first, last) multiplier T_l of the automatic bandwidth;
            the L multipliers are spaced evenly between them.
        combine: how the L base estimates become one: ``"median"`` (reference
            default) or ``"average"``. The reference's cvxpy ``optimal_weights`` is not
            offered: with T in [1, 1.1] and L <= 16 its constraints are inactive and
            the optimum is the uniform weighting, i.e. ``"average"``.
        cap: upper clip U of every log-ratio, in bits (and of the residual
            reading's sum over canonical pairs, so no estimate exceeds it).
        gamma: smoothness factor; the reference multiplies it by 0.4 before use, so
            the default 1.0 means an effective 0.4.
        projection_threshold: blocks wider than this are reduced by a seeded
            p-stable (Gaussian) random projection before hashing.
        knn_queries: number of random query points for the 1-D k-NN bandwidth rule.
        seed: seed of the projection matrices and of the k-NN query points; equal
            seeds give bit-identical estimates.
        activation_phi: optional activation weighting of each summand by a function
            of the product of the integer bucket vectors' norms:
            ``"act"`` (the product), ``"act_sq"`` (its square) or ``"exp_act"``
            (exp(-product^2 / 2)); ``None`` weights every summand by 1.
        debias: subtract from every base estimate the same estimate on a copy of the
            data in which Y is shuffled within each Z bucket (Y shuffled over all
            samples for a plain MI term). The shuffle keeps every marginal count
            (N_z, N_xz, N_yz) and only breaks the X-Y link inside a Z bucket, so the
            copy measures what the estimator reports under conditional independence:
            the bias of plug-in counts in sparse cells plus the bias of the 0.001 lower
            clip. Without it the direct reading overestimates (about +0.08 bits at
            N=5000 on 4-D Gaussians, and by bits when the blocks are wide, as in ACMI);
            see benchmarks/estimator_accuracy.py. A debiased estimate can be slightly
            negative when there is no detectable dependence; it is not clipped so that
            rankings stay strict. ``None`` (default) enables it for the direct reading
            and for the residual reading (there, per canonical pair with v shuffled over
            all samples: it removes each 1-D pair's plug-in and clip bias, which would
            otherwise add up over the pairs), and leaves the chain reading as published
            (its two terms share most of their bias, which then cancels).
        normalize_epsilon: EDGE's second bandwidth pass (on by default in the
            reference code): after a first estimate I, every bucket width is
            multiplied by 0.4 * 2^(-sqrt(2 I) + 0.5 / I) and the estimate is made again
            (:mod:`snacs.estimators.edge.second_pass`). The chain reading applies it to each
            of its two terms.
        ridge: residual reading only: ridge penalty of the partialling regression
            as a multiple of the conditioning layer's column count W on standardised
            columns (a shrinkage of about W/N); 0 gives plain least squares.
        seeds: number of estimator seeds (``seed``, ``seed`` + 1, ...) whose ACMI
            matrices the SNACS pruner averages; with two or more it also reports the
            test-retest stability (Spearman between the first two seeds' scores).
            The single-estimate functions use ``seed`` only.
        residual_mi: residual reading only: how the residuals' MI is estimated.
            ``"canonical"`` (default) sums EDGE MIs of the 1-D canonical pairs of the
            two residuals (exact for Gaussian residuals, an approximation otherwise;
            each pair is hashed densely whatever the groups' widths); ``"joint"``
            hashes the two residual blocks as they are (projected when wider than
            ``projection_threshold``), which leaves most buckets nearly empty at
            8 + 8 dimensions and N in the thousands.
    """

    method: Method = "direct"
    ensemble_size: int = 10
    bandwidth_range: tuple[float, float] = (1.0, 1.1)
    combine: Combine = "median"
    cap: float = 10.0
    gamma: float = 1.0
    projection_threshold: int = 6
    knn_queries: int = 500
    seed: int = 3334
    activation_phi: ActivationPhi = None
    debias: bool | None = None
    normalize_epsilon: bool = False
    ridge: float = 1.0
    residual_mi: ResidualMi = "canonical"
    seeds: int = 1

    @property
    def subtracts_null(self) -> bool:
        """Whether base estimates get their shuffled-data estimate subtracted."""
        return self.method in NULL_CORRECTED if self.debias is None else self.debias

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"EdgeOptions.method must be one of {METHODS}, got {self.method!r}")
        if self.combine not in COMBINES:
            raise ConfigError(
                f"EdgeOptions.combine must be one of {COMBINES}, got {self.combine!r}"
            )
        if self.activation_phi not in ACTIVATION_PHIS:
            raise ConfigError(
                f"EdgeOptions.activation_phi must be one of {ACTIVATION_PHIS}, "
                f"got {self.activation_phi!r}"
            )
        if self.ensemble_size < 1:
            raise ConfigError(f"EdgeOptions.ensemble_size must be >= 1, got {self.ensemble_size}")
        low, high = self.bandwidth_range
        if not 0 < low <= high:
            raise ConfigError(
                f"EdgeOptions.bandwidth_range must satisfy 0 < first <= last, got {low, high}"
            )
        if self.cap <= LOWER_CLIP_BITS:
            raise ConfigError(f"EdgeOptions.cap must exceed {LOWER_CLIP_BITS}, got {self.cap}")
        if self.gamma <= 0:
            raise ConfigError(f"EdgeOptions.gamma must be > 0, got {self.gamma}")
        if self.projection_threshold < 1:
            raise ConfigError(
                f"EdgeOptions.projection_threshold must be >= 1, got {self.projection_threshold}"
            )
        if self.residual_mi not in RESIDUAL_MIS:
            raise ConfigError(
                f"EdgeOptions.residual_mi must be one of {RESIDUAL_MIS}, got {self.residual_mi!r}"
            )
        if self.method == "residual" and self.residual_mi == "canonical" and self.activation_phi:
            raise ConfigError(
                "EdgeOptions.activation_phi needs bucket vectors of X, Y and Z; the residual "
                "reading's canonical pairs have none (use residual_mi: joint)"
            )
        if self.seeds < 1:
            raise ConfigError(f"EdgeOptions.seeds must be >= 1, got {self.seeds}")
        if self.ridge < 0:
            raise ConfigError(f"EdgeOptions.ridge must be >= 0, got {self.ridge}")
        if self.knn_queries < 1:
            raise ConfigError(f"EdgeOptions.knn_queries must be >= 1, got {self.knn_queries}")
