"""Jointly Gaussian test cases with a known conditional mutual information.

For jointly Gaussian (X, Y, Z) the CMI has a closed form,

    I(X;Y|Z) = 1/2 log2( det S_xz det S_yz / (det S_z det S_xyz) ),

so these cases measure an estimator's bias and MSE exactly (estimator-accuracy study,
docs/method.md). The covariance is a random correlation matrix blended with the identity:
``strength`` 0 gives independent coordinates (CMI 0) and values towards 1 give strong,
random dependence, so a handful of seeds covers a spread of true CMI values.
"""

import numpy as np


def _logdet(matrix: np.ndarray) -> float:
    if matrix.size == 0:
        return 0.0
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        raise ValueError("covariance block is not positive definite")
    return float(value)


def gaussian_cmi_bits(cov: np.ndarray, dims: tuple[int, int, int]) -> float:
    """Exact I(X;Y|Z) in bits for a joint covariance ordered as [X, Y, Z].

    A zero-width Z gives the plain mutual information I(X;Y).
    """
    dx, dy, dz = dims
    if cov.shape != (dx + dy + dz,) * 2:
        raise ValueError(f"covariance shape {cov.shape} does not match dims {dims}")
    x = np.arange(dx)
    y = np.arange(dx, dx + dy)
    z = np.arange(dx + dy, dx + dy + dz)

    def block(index: np.ndarray) -> np.ndarray:
        return cov[np.ix_(index, index)]

    nats = 0.5 * (
        _logdet(block(np.concatenate([x, z])))
        + _logdet(block(np.concatenate([y, z])))
        - _logdet(block(z))
        - _logdet(cov)
    )
    return nats / np.log(2.0)


def random_correlated_covariance(total_dim: int, strength: float, seed: int) -> np.ndarray:
    """(1 - strength) * I + strength * R with R a random (Wishart-type) correlation matrix."""
    if not 0.0 <= strength < 1.0:
        raise ValueError(f"strength must be in [0, 1), got {strength}")
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((total_dim, total_dim))
    gram = factors @ factors.T
    scale = np.sqrt(np.diag(gram))
    correlation = gram / np.outer(scale, scale)
    return (1.0 - strength) * np.eye(total_dim) + strength * correlation


def random_gaussian_cmi_case(
    dims: tuple[int, int, int], strength: float, seed: int, n_samples: int = 5000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Samples (x [N, dx], y [N, dy], z [N, dz]) and their exact I(X;Y|Z) in bits.

    The covariance and the samples come from ``seed`` (the samples from a separate
    stream, so the same covariance can be resampled at another N by changing only N).
    """
    dx, dy, dz = dims
    cov = random_correlated_covariance(dx + dy + dz, strength, seed)
    rng = np.random.default_rng([seed, n_samples])
    samples = rng.standard_normal((n_samples, dx + dy + dz)) @ np.linalg.cholesky(cov).T
    x, y, z = np.split(samples, [dx, dx + dy], axis=1)
    return x, y, z, gaussian_cmi_bits(cov, dims)


def gaussian_mi_bits(cov: np.ndarray, dims: tuple[int, int]) -> float:
    """Exact I(X;Y) in bits for a joint covariance ordered as [X, Y]."""
    return gaussian_cmi_bits(cov, (dims[0], dims[1], 0))


def layer_shaped_cmi_case(
    child_dim: int,
    rest_dim: int,
    own_strength: float,
    rest_strength: float,
    seed: int,
    n_samples: int = 2000,
    group_dim: int = 8,
    factors: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """A child group X, a parent group Y and the other parents Z, as ACMI scores them.

    The parent layer [Y | Z] (``group_dim`` + ``rest_dim`` columns) shares ``factors``
    latent factors plus independent noise, so Y and Z are correlated as a layer's
    channels are. X = own_strength * Y B + rest_strength * Z D / sqrt(rest_dim / group_dim)
    + noise with random B, D: its conditional MI with Y given Z grows with
    ``own_strength``, while its unconditional MI with Y also grows with
    ``rest_strength`` (Z's part reaches Y through the shared factors), so the plain MI
    misranks cases that differ in the two strengths.

    Returns (x [N, child_dim], y [N, group_dim], z [N, rest_dim], I(X;Y|Z), I(X;Y)) in bits.
    """
    rng = np.random.default_rng([seed, child_dim, rest_dim])
    width = group_dim + rest_dim
    loadings = rng.standard_normal((factors, width))
    parent_cov = loadings.T @ loadings / factors + np.eye(width)
    mixing = np.concatenate(
        [
            own_strength * rng.standard_normal((group_dim, child_dim)) / np.sqrt(group_dim),
            rest_strength * rng.standard_normal((rest_dim, child_dim)) / np.sqrt(rest_dim),
        ]
    )
    child_parent = mixing.T @ parent_cov  # Cov(X, P)
    child_cov = mixing.T @ parent_cov @ mixing + np.eye(child_dim)
    cov = np.block([[child_cov, child_parent], [child_parent.T, parent_cov]])
    sample_rng = np.random.default_rng([seed, child_dim, rest_dim, n_samples])
    samples = sample_rng.standard_normal((n_samples, cov.shape[0])) @ np.linalg.cholesky(cov).T
    x, y, z = np.split(samples, [child_dim, child_dim + group_dim], axis=1)
    cmi = gaussian_cmi_bits(cov, (child_dim, group_dim, rest_dim))
    mi = gaussian_mi_bits(
        cov[: child_dim + group_dim, : child_dim + group_dim], (child_dim, group_dim)
    )
    return x, y, z, cmi, mi
