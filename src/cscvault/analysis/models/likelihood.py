"""Marginal log-likelihoods (with analytic gradients) of logistic models with random intercepts.

Parametrisation follows lme4: the random effects are sigma * u with u ~ N(0, 1), and the parameter
vector is (beta..., sigma...). The likelihood is an even function of each sigma (flip the sign of u), so
optimisers may move through negative sigma and report its absolute value.

* `RandomInterceptLikelihood`: one random intercept per cluster. The integral factorises by cluster,
  so each is 1-D and is done by adaptive Gauss-Hermite quadrature around the conditional mode
  (K = 1 is the Laplace approximation, lme4's nAGQ = 1).
* `NestedLaplaceLikelihood`: cluster and cluster-period (nested) random intercepts, Laplace
  approximation. The Hessian of each cluster's integrand is an arrowhead matrix, so modes, log
  determinants and the implicit derivatives are closed form per cell.
* `NestedQuadratureLikelihood`: the same model by nested adaptive quadrature (numerical gradient).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy import sparse
from scipy.special import expit, logsumexp

from cscvault.analysis.models.design_matrix import Design

FloatArray = NDArray[np.float64]

_MODE_TOL = 1e-12
_MODE_MAX_ITER = 200


def _indicator(groups: NDArray[np.intp], n_groups: int) -> sparse.csr_matrix:
    """Sparse (groups x rows) 0/1 matrix: `S @ v` sums v within groups."""
    m = len(groups)
    return sparse.csr_matrix((np.ones(m), (groups, np.arange(m))), shape=(n_groups, m))


def _softplus(a: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, a)


class RandomInterceptLikelihood:
    """Adaptive Gauss-Hermite (or Laplace) likelihood of a cluster random-intercept logistic model."""

    def __init__(self, design: Design, nagq: int = 1) -> None:
        if nagq < 1:
            raise ValueError("nagq must be at least 1")
        self.x = design.x
        self.y = design.events
        self.n = design.trials
        self.cl = design.cluster
        self.n_groups = design.n_clusters
        self.s = _indicator(design.cluster, design.n_clusters)
        nodes, weights = hermegauss(nagq)
        self.z: FloatArray = nodes.astype(np.float64)
        self.log_w: FloatArray = np.log(weights)
        # Each cluster's normal density carries -log(2*pi)/2; the weights of exp(-z^2/2) sum to sqrt(2*pi).
        self.const = design.log_binom_const - 0.5 * math.log(2 * math.pi) * self.n_groups
        self.n_params = design.x.shape[1] + 1
        self._u: FloatArray = np.zeros(self.n_groups)

    def _mode(self, eta: FloatArray, sigma: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Conditional modes u_c (safeguarded Newton, warm-started) and the fitted p, w at them."""
        y, n, s, cl = self.y, self.n, self.s, self.cl
        u = self._u.copy()

        def g_of(uu: FloatArray) -> FloatArray:
            a = eta + sigma * uu[cl]
            return np.asarray(s @ (y * a - n * _softplus(a))) - 0.5 * uu * uu

        g_old = g_of(u)
        for _ in range(_MODE_MAX_ITER):
            p = expit(eta + sigma * u[cl])
            grad = sigma * (s @ (y - n * p)) - u
            hess = sigma * sigma * (s @ (n * p * (1 - p))) + 1.0
            step = grad / hess
            u_new = u + step
            g_new = g_of(u_new)
            # g is strictly concave, so halving a Newton step that lowers g always recovers.
            for _ in range(60):
                bad = g_new < g_old - 1e-13 * np.abs(g_old)
                if not bad.any():
                    break
                step = np.where(bad, step / 2, step)
                u_new = u + step
                g_new = np.where(bad, g_of(u_new), g_new)
            u, g_old = u_new, g_new
            if np.max(np.abs(step)) < _MODE_TOL * (1 + np.max(np.abs(u))):
                break
        self._u = u
        p = expit(eta + sigma * u[cl])
        return u, p, n * p * (1 - p)

    def loglik(self, theta: FloatArray) -> float:
        return self.value_and_grad(theta, need_grad=False)[0]

    def value_and_grad(self, theta: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray]:
        """Log-likelihood and its gradient in (beta, sigma)."""
        x, y, n, s, cl, z = self.x, self.y, self.n, self.s, self.cl, self.z
        beta, sigma = theta[:-1], float(theta[-1])
        eta = x @ beta
        u, p, w = self._mode(eta, sigma)
        big_w = s @ w
        hess = sigma * sigma * big_w + 1.0
        scale = hess**-0.5
        a = u[:, None] + scale[:, None] * z[None, :]  # (clusters, nodes)
        lin = eta[:, None] + sigma * a[cl, :]  # (rows, nodes)
        ell = np.asarray(s @ (y[:, None] * lin - n[:, None] * _softplus(lin)))
        t = self.log_w[None, :] + ell - 0.5 * a * a + 0.5 * z[None, :] ** 2
        lse = logsumexp(t, axis=1)
        value = float(np.sum(np.log(scale) + lse) + self.const)
        if not need_grad:
            return value, np.empty(0)

        omega = np.exp(t - lse[:, None])  # normalised node weights per cluster
        r_k = y[:, None] - n[:, None] * expit(lin)
        big_r_k = np.asarray(s @ r_k)
        # (A) derivative of the integrand at fixed nodes
        g_beta = x.T @ (omega[cl, :] * r_k).sum(axis=1)
        g_sigma = float(np.sum(omega * a * big_r_k))
        # (B) the nodes move with the mode u and the scale s = H^(-1/2)
        g_prime = sigma * big_r_k - a
        g1 = (omega * g_prime).sum(axis=1)
        g2 = (omega * g_prime * z[None, :]).sum(axis=1)
        kappa = -0.5 * (1.0 + g2 * scale) / hess
        r_hat = y - n * p
        w_skew = w * (1 - 2 * p)
        big_r = s @ r_hat
        big_v = s @ w_skew
        xw = np.asarray(s @ (w[:, None] * x))
        xv = np.asarray(s @ (w_skew[:, None] * x))
        du_beta = -sigma * xw / hess[:, None]
        du_sigma = (big_r - sigma * u * big_w) / hess
        h_prime = sigma**3 * big_v
        dh_beta = sigma * sigma * xv + h_prime[:, None] * du_beta
        dh_sigma = 2 * sigma * big_w + sigma * sigma * u * big_v + h_prime * du_sigma
        g_beta = g_beta + (g1[:, None] * du_beta + kappa[:, None] * dh_beta).sum(axis=0)
        g_sigma += float(np.sum(g1 * du_sigma + kappa * dh_sigma))
        return value, np.append(g_beta, g_sigma)

    def laplace_hessian(self, theta: FloatArray) -> FloatArray:
        """Exact Hessian of the Laplace log-likelihood in (beta, sigma), by implicit differentiation.

        Per cluster the Laplace term is G(theta) - log(H)/2 with G = g(u_hat, theta) the log integrand at
        the conditional mode and H = sigma^2 W + 1 its negative curvature. The mode moves with theta,
        du/dtheta = m = g_u./H, so with D = d/dtheta + m d/du (the total derivative along the mode):

            d2G = g.. + g_u. g_u.' / H,    d2(-log H / 2) = -(D2 H) / (2H) + DH DH' / (2H^2),

        and D2 H needs d2u/dtheta2 (from differentiating g_u(u_hat(theta), theta) = 0 twice). Every
        row-level sum weights a row by a per-cluster scalar, so each is one weighted Gram matrix over the
        rows; per-cluster terms are K x K. About the cost of two likelihood evaluations, against 2K for
        differencing the gradient. Equals lme4's Laplace deviance Hessian (tested against differences).
        """
        x, y, n, s, cl = self.x, self.y, self.n, self.s, self.cl
        k = x.shape[1] + 1
        beta, sigma = theta[:-1], float(theta[-1])
        eta = x @ beta
        u, p, w = self._mode(eta, sigma)
        q = 1.0 - 2.0 * p
        v = w * q  # dw/da
        s3 = w * (1.0 - 6.0 * p * (1.0 - p))  # d2w/da2
        r = y - n * p
        e_sig = np.zeros(k)
        e_sig[-1] = 1.0
        big_e = np.column_stack([x, u[cl]])  # d a_i / d theta at fixed u
        sw = np.asarray(s @ w)
        sv = np.asarray(s @ v)
        big_r = np.asarray(s @ r)
        h = sigma * sigma * sw + 1.0
        sum_we = np.asarray(s @ (w[:, None] * big_e))  # (C, K)
        g_u = -sigma * sum_we + big_r[:, None] * e_sig  # d2g / du dtheta
        m = g_u / h[:, None]  # d u_hat / d theta
        # Row i's total d a_i / d theta is A_i = E_i + sigma m_c (never formed: sums over A are sums over E
        # plus per-cluster terms in m).
        sum_va = np.asarray(s @ (v[:, None] * big_e)) + sigma * sv[:, None] * m
        sum_wa = sum_we + sigma * sw[:, None] * m
        dh = 2.0 * sigma * sw[:, None] * e_sig + sigma * sigma * sum_va  # total dH / dtheta, (C, K)

        # d2u/dtheta_j dtheta_k = D_k(g_uj) / H - g_uj D_k(H) / H^2. Its only part that is not per-cluster
        # is -sigma * sum_i v_i E_ij A_ik / H, carried into the row sums below.
        light = (
            -sum_we[:, :, None] * e_sig[None, None, :]
            - sigma * sw[:, None, None] * e_sig[None, :, None] * m[:, None, :]
            - e_sig[None, :, None] * sum_wa[:, None, :]
        ) / h[:, None, None] - g_u[:, :, None] * dh[:, None, :] / (h * h)[:, None, None]
        # B_jk = D_k A_ij (the same for every row of a cluster), light part
        b_light = e_sig[None, :, None] * m[:, None, :] + m[:, :, None] * e_sig[None, None, :] + sigma * light
        # D2 H without the row sums
        d2h_light = (
            2.0 * sw[:, None, None] * np.outer(e_sig, e_sig)[None]
            + 2.0 * sigma * (e_sig[None, :, None] * sum_va[:, None, :] + sum_va[:, :, None] * e_sig[None, None, :])
            + sigma * sigma * sv[:, None, None] * b_light
        )
        hess = np.einsum("c,cj,ck->jk", 1.0 / h, g_u, g_u)
        hess -= 0.5 * np.einsum("c,cjk->jk", 1.0 / h, d2h_light)
        hess += 0.5 * np.einsum("c,cj,ck->jk", 1.0 / (h * h), dh, dh)
        # Row sums: -sum w E E' - sum alpha A A' + sum beta E A', with alpha = sigma^2 w'' / 2H and
        # beta = sigma^4 Sv v / 2H^2. Expanding A = E + sigma m gives one weighted Gram matrix over the rows
        # and per-cluster products.
        alpha = 0.5 * sigma * sigma * s3 / h[cl]
        beta_w = 0.5 * sigma**4 * (sv / (h * h))[cl] * v
        hess += big_e.T @ ((beta_w - w - alpha)[:, None] * big_e)
        sum_alpha_e = np.asarray(s @ (alpha[:, None] * big_e))
        sum_beta_e = np.asarray(s @ (beta_w[:, None] * big_e))
        sum_alpha = np.asarray(s @ alpha)
        hess -= sigma * (sum_alpha_e.T @ m + m.T @ sum_alpha_e) + sigma * sigma * (m.T @ (sum_alpha[:, None] * m))
        hess += sigma * sum_beta_e.T @ m
        return np.asarray(0.5 * (hess + hess.T))


class NestedLaplaceLikelihood:
    """Laplace likelihood of a logistic model with cluster and cluster-period random intercepts."""

    def __init__(self, design: Design) -> None:
        self.x = design.x
        self.y = design.events
        self.n = design.trials
        self.cl = design.cluster
        self.cell = design.cell
        self.cell_cluster = design.cell_cluster
        self.s_cell = _indicator(design.cell, design.n_cells)
        self.s_clu = _indicator(design.cell_cluster, design.n_clusters)  # cells -> clusters
        self.const = design.log_binom_const
        self.n_params = design.x.shape[1] + 2
        self._u: FloatArray = np.zeros(design.n_clusters)
        self._v: FloatArray = np.zeros(design.n_cells)

    def _g(self, eta: FloatArray, s1: float, s2: float, u: FloatArray, v: FloatArray) -> FloatArray:
        """Per-cluster log integrand (without constants)."""
        a = eta + s1 * u[self.cl] + s2 * v[self.cell]
        per_cell = np.asarray(self.s_cell @ (self.y * a - self.n * _softplus(a))) - 0.5 * v * v
        return np.asarray(self.s_clu @ per_cell) - 0.5 * u * u

    def _arrow(self, s1: float, s2: float, w_cell: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Arrowhead blocks of -Hessian: H_uu (clusters), b = H_uv and D = H_vv (cells), Schur complement."""
        d = 1.0 + s2 * s2 * w_cell
        b = s1 * s2 * w_cell
        h_uu = 1.0 + s1 * s1 * np.asarray(self.s_clu @ w_cell)
        schur = h_uu - np.asarray(self.s_clu @ (b * b / d))
        return h_uu, b, d, schur

    def _solve(
        self, b: FloatArray, d: FloatArray, schur: FloatArray, rhs_u: FloatArray, rhs_v: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Solve H [du; dv] = [rhs_u; rhs_v] for vector or matrix right-hand sides."""
        cc = self.cell_cluster
        if rhs_u.ndim == 1:
            du = (rhs_u - np.asarray(self.s_clu @ (b * rhs_v / d))) / schur
            return du, (rhs_v - b * du[cc]) / d
        du = (rhs_u - np.asarray(self.s_clu @ ((b / d)[:, None] * rhs_v))) / schur[:, None]
        return du, (rhs_v - b[:, None] * du[cc, :]) / d[:, None]

    def _mode(self, eta: FloatArray, s1: float, s2: float) -> tuple[FloatArray, FloatArray]:
        u, v = self._u.copy(), self._v.copy()
        g_old = self._g(eta, s1, s2, u, v)
        cc = self.cell_cluster
        for _ in range(_MODE_MAX_ITER):
            p = expit(eta + s1 * u[self.cl] + s2 * v[self.cell])
            r_cell = np.asarray(self.s_cell @ (self.y - self.n * p))
            w_cell = np.asarray(self.s_cell @ (self.n * p * (1 - p)))
            grad_v = s2 * r_cell - v
            grad_u = s1 * np.asarray(self.s_clu @ r_cell) - u
            _, b, d, schur = self._arrow(s1, s2, w_cell)
            du, dv = self._solve(b, d, schur, grad_u, grad_v)
            u_new, v_new = u + du, v + dv
            g_new = self._g(eta, s1, s2, u_new, v_new)
            for _ in range(60):
                bad = g_new < g_old - 1e-13 * np.abs(g_old)
                if not bad.any():
                    break
                du = np.where(bad, du / 2, du)
                dv = np.where(bad[cc], dv / 2, dv)
                u_new, v_new = u + du, v + dv
                g_new = np.where(bad, self._g(eta, s1, s2, u_new, v_new), g_new)
            u, v, g_old = u_new, v_new, g_new
            size = max(np.max(np.abs(du)), np.max(np.abs(dv)))
            if size < _MODE_TOL * (1 + max(np.max(np.abs(u)), np.max(np.abs(v)))):
                break
        self._u, self._v = u, v
        return u, v

    def loglik(self, theta: FloatArray) -> float:
        return self.value_and_grad(theta, need_grad=False)[0]

    def value_and_grad(self, theta: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray]:
        """Laplace log-likelihood and its gradient in (beta, sigma_cluster, sigma_cluster_period)."""
        x, y, n, cl, cell = self.x, self.y, self.n, self.cl, self.cell
        s_cell, s_clu, cc = self.s_cell, self.s_clu, self.cell_cluster
        beta, s1, s2 = theta[:-2], float(theta[-2]), float(theta[-1])
        eta = x @ beta
        u, v = self._mode(eta, s1, s2)
        a = eta + s1 * u[cl] + s2 * v[cell]
        p = expit(a)
        w = n * p * (1 - p)
        w_cell = np.asarray(s_cell @ w)
        _, b, d, schur = self._arrow(s1, s2, w_cell)
        log_det = np.log(schur).sum() + np.log(d).sum()
        g_hat = float(np.sum(self._g(eta, s1, s2, u, v)))
        value = g_hat - 0.5 * float(log_det) + self.const
        if not need_grad:
            return value, np.empty(0)

        # Entries of H^-1 per cell: A = (H^-1)_uu, B = (H^-1)_uv, C = (H^-1)_vv.
        inv_a = 1.0 / schur
        inv_b = -b / (d * schur[cc])
        inv_c = 1.0 / d + b * b / (d * d * schur[cc])
        lev = s1 * s1 * inv_a[cc] + 2 * s1 * s2 * inv_b + s2 * s2 * inv_c  # z' L H^-1 L z per cell
        r = y - n * p
        r_cell = np.asarray(s_cell @ r)
        r_clu = np.asarray(s_clu @ r_cell)
        xw_cell = np.asarray(s_cell @ (w[:, None] * x))
        xw_clu = np.asarray(s_clu @ xw_cell)
        vw_clu = np.asarray(s_clu @ (w_cell * v))
        # d(mode)/d(theta) = H^-1 d(grad_e g)/d(theta), columns: beta..., sigma1, sigma2
        rhs_u = np.column_stack([-s1 * xw_clu, r_clu - s1 * u * np.asarray(s_clu @ w_cell), -s1 * vw_clu])
        rhs_v = np.column_stack([-s2 * xw_cell, -s2 * w_cell * u[cc], r_cell - s2 * w_cell * v])
        du, dv = self._solve(b, d, schur, rhs_u, rhs_v)
        # total derivative of each row's linear predictor
        n_beta = x.shape[1]
        da_extra = s1 * du[cl, :] + s2 * dv[cell, :]
        da_extra[:, n_beta] += u[cl]
        da_extra[:, n_beta + 1] += v[cell]
        q = w * (1 - 2 * p) * lev[cell]
        trace = np.zeros(n_beta + 2)
        trace[:n_beta] = x.T @ q
        trace += q @ da_extra
        # explicit dependence of H on the sigmas (at fixed w)
        trace[n_beta] += float(np.sum(w_cell * 2 * (s1 * inv_a[cc] + s2 * inv_b)))
        trace[n_beta + 1] += float(np.sum(w_cell * 2 * (s1 * inv_b + s2 * inv_c)))
        grad = np.empty(n_beta + 2)
        grad[:n_beta] = x.T @ r
        grad[n_beta] = float(np.sum(u * r_clu))
        grad[n_beta + 1] = float(np.sum(v * r_cell))
        return value, grad - 0.5 * trace


class NestedQuadratureLikelihood(NestedLaplaceLikelihood):
    """Nested adaptive Gauss-Hermite quadrature for cluster and cluster-period random intercepts.

    Outer nodes for the cluster effect are centred on the joint conditional mode with the scale of the
    Schur complement of the Hessian; for every outer node, each cell's integral over its period effect
    is an adaptive 1-D rule around that cell's own conditional mode. With one node at both levels this
    is exactly the Laplace approximation. The gradient is by central differences (no closed form is
    attempted for the nested rule).
    """

    def __init__(self, design: Design, nagq: int) -> None:
        super().__init__(design)
        nodes, weights = hermegauss(nagq)
        self.z: FloatArray = nodes.astype(np.float64)
        self.log_w: FloatArray = np.log(weights)
        self.n_clusters = design.n_clusters
        self.n_cells_ = design.n_cells
        # one normal-density constant per cluster and per cell
        self.const_q = design.log_binom_const - 0.5 * math.log(2 * math.pi) * (design.n_clusters + design.n_cells)

    def _inner_modes(self, eta: FloatArray, s1: float, s2: float, a: FloatArray, v0: FloatArray) -> FloatArray:
        """Mode of each cell's period effect given each outer node: (cells, outer nodes)."""
        y, n, cl, cell, s_cell = self.y, self.n, self.cl, self.cell, self.s_cell
        base = eta[:, None] + s1 * a[cl, :]  # (rows, K)
        v = np.repeat(v0[:, None], a.shape[1], axis=1)

        def h_of(vv: FloatArray) -> FloatArray:
            lin = base + s2 * vv[cell, :]
            return np.asarray(s_cell @ (y[:, None] * lin - n[:, None] * _softplus(lin))) - 0.5 * vv * vv

        h_old = h_of(v)
        for _ in range(_MODE_MAX_ITER):
            p = expit(base + s2 * v[cell, :])
            grad = s2 * np.asarray(s_cell @ (y[:, None] - n[:, None] * p)) - v
            curv = 1.0 + s2 * s2 * np.asarray(s_cell @ (n[:, None] * p * (1 - p)))
            step = grad / curv
            v_new = v + step
            h_new = h_of(v_new)
            for _ in range(60):
                bad = h_new < h_old - 1e-13 * np.abs(h_old)
                if not bad.any():
                    break
                step = np.where(bad, step / 2, step)
                v_new = v + step
                h_new = np.where(bad, h_of(v_new), h_new)
            v, h_old = v_new, h_new
            if np.max(np.abs(step)) < _MODE_TOL * (1 + np.max(np.abs(v))):
                break
        return v

    def loglik(self, theta: FloatArray) -> float:
        y, n, cl, cell, s_cell, s_clu, z = self.y, self.n, self.cl, self.cell, self.s_cell, self.s_clu, self.z
        beta, s1, s2 = theta[:-2], float(theta[-2]), float(theta[-1])
        k = len(z)
        eta = self.x @ beta
        u, v = self._mode(eta, s1, s2)
        p = expit(eta + s1 * u[cl] + s2 * v[cell])
        w_cell = np.asarray(s_cell @ (n * p * (1 - p)))
        _, _, _, schur = self._arrow(s1, s2, w_cell)
        scale = schur**-0.5
        a = u[:, None] + scale[:, None] * z[None, :]  # outer nodes (clusters, K)
        v_star = self._inner_modes(eta, s1, s2, a, v)  # (cells, K)
        p_star = expit(eta[:, None] + s1 * a[cl, :] + s2 * v_star[cell, :])
        d = 1.0 + s2 * s2 * np.asarray(s_cell @ (n[:, None] * p_star * (1 - p_star)))  # (cells, K)
        b = v_star[:, :, None] + (d**-0.5)[:, :, None] * z[None, None, :]  # inner nodes (cells, K, K)
        lin = eta[:, None, None] + s1 * a[cl, :, None] + s2 * b[cell, :, :]  # (rows, K, K)
        ell = (y[:, None, None] * lin - n[:, None, None] * _softplus(lin)).reshape(len(y), k * k)
        h = np.asarray(s_cell @ ell).reshape(-1, k, k) - 0.5 * b * b
        log_inner = -0.5 * np.log(d) + logsumexp(self.log_w + 0.5 * z * z + h, axis=2)  # (cells, K)
        outer = self.log_w + 0.5 * z * z - 0.5 * a * a + np.asarray(s_clu @ log_inner)
        return float(np.sum(np.log(scale) + logsumexp(outer, axis=1)) + self.const_q)

    def value_and_grad(self, theta: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray]:
        value = self.loglik(theta)
        if not need_grad:
            return value, np.empty(0)
        grad = np.empty(len(theta))
        for j in range(len(theta)):
            step = 1e-5 * max(1.0, abs(float(theta[j])))
            e = np.zeros(len(theta))
            e[j] = step
            grad[j] = (self.loglik(theta + e) - self.loglik(theta - e)) / (2 * step)
        return value, grad
