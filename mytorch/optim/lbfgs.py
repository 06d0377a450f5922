"""L-BFGS (torch.optim.LBFGS): quasi-Newton steps from the last `history_size` curvature pairs.

One `step(closure)` runs up to `max_iter` iterations. The direction comes from the two-loop recursion
(Nocedal & Wright, Numerical Optimization, Algorithm 7.4) with H0 = (y^T s / y^T y) I; the step length is
`lr` (the first iteration scales it by 1 / |g|_1), or a strong-Wolfe line search (bracketing, then zoom
with safeguarded cubic interpolation; N&W Algorithms 3.5/3.6) when line_search_fn="strong_wolfe".
All parameters are treated as one flat vector; the state lives under the first parameter, as in PyTorch.
"""
import numpy as np

from .._array import move_array, xp_of
from ..tensor import Tensor
from .optimizer import Optimizer, _to_scalar

__all__ = ["LBFGS"]

_FLAT_KEYS = ("d", "prev_flat_grad")  # flat-vector state entries (lists of them: old_dirs, old_stps)


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1, slope g1) and (x2, f2, g2), clipped to bounds (default:
    the interval); the midpoint when the cubic has no real minimizer."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = d2_square ** 0.5
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d meeting the strong Wolfe conditions: f(t) <= f + c1 t g^T d and |g(t)^T d| <= c2 |g^T d|.
    `evaluate(t)` gives (loss, flat grad) at x + t d. Returns (loss, grad, t, evaluations)."""
    d_norm = _host(abs(d).max())
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    # bracketing: grow t until an interval surely holds an acceptable point
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = ([t], [f_new], [g_new], [gtd_new]), True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    steps, values, grads, slopes = bracket
    # zoom: shrink the bracket around a point meeting both conditions
    insufficient_progress = False
    low, high = (0, 1) if values[0] <= values[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(steps[1] - steps[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(steps[0], values[0], slopes[0], steps[1], values[1], slopes[1])
        # keep t away from the bracket's ends (fall back towards bisection when progress stalls)
        width, top, bottom = max(steps) - min(steps), max(steps), min(steps)
        eps = 0.1 * width
        if min(top - t, t - bottom) < eps:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= values[low]:
            steps[high], values[high], grads[high], slopes[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if values[0] <= values[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (steps[high] - steps[low]) >= 0:
                steps[high], values[high], grads[high], slopes[high] = (steps[low], values[low], grads[low],
                                                                        slopes[low])
            steps[low], values[low], grads[low], slopes[low] = t, f_new, g_new, gtd_new
    return values[low], grads[low], steps[low], evals


class LBFGS(Optimizer):
    _steps_complex_as_real = False  # the closure must see complex parameters; _real_view flattens them here

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _to_scalar(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # the parameters as one flat vector ------------------------------------------------------
    def _flat_grad(self):
        xp = xp_of(self._params[0]._data)
        return xp.concatenate([_real_view(p.grad._data) if p.grad is not None else
                               xp.zeros(_real_view(p._data).size, _real_view(p._data).dtype) for p in self._params])

    def _add_to_params(self, step_size, direction):
        offset = 0
        for p in self._params:
            flat = _real_view(p._data)
            n = flat.size
            flat += step_size * direction[offset:offset + n]
            offset += n

    def _evaluate(self, closure):
        loss = float(self._run_closure(closure))
        return loss, self._flat_grad()

    def _directional_evaluate(self, closure, x0, t, d):
        """(loss, grad) at x0 + t d, leaving the parameters at x0."""
        self._add_to_params(t, d)
        out = self._evaluate(closure)
        for p, saved in zip(self._params, x0):
            p._data[...] = saved
        return out

    def step(self, closure=None):
        """One L-BFGS run of up to max_iter iterations; returns the loss before it (the closure's first value)."""
        if closure is None:
            raise TypeError("LBFGS.step() needs a closure that clears the gradients, computes the loss, calls "
                            "backward() and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = _to_scalar(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._run_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if _host(abs(flat_grad).max()) <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = _array(state.get("d")), state.get("t")
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_stps = [_array(v) for v in state.get("old_stps", [])]
        ro, H_diag = list(state.get("ro", [])), state.get("H_diag")
        prev_flat_grad, prev_loss = _array(state.get("prev_flat_grad")), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, H_diag = -flat_grad, [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad  # gradient change and step of the last iteration
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep the pair only when it carries positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag)
            prev_flat_grad, prev_loss = flat_grad.copy(), loss
            t = min(1.0, 1.0 / _host(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(flat_grad, d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":  # PyTorch checks this here, at the first line search
                    raise RuntimeError(f"only 'strong_wolfe' is supported (line_search_fn={line_search_fn!r})")
                x0 = [p._data.copy() for p in self._params]
                loss, flat_grad, t, evals = _strong_wolfe(
                    lambda step: self._directional_evaluate(closure, x0, step, d), t, d, loss, flat_grad, gtd)
                self._add_to_params(t, d)
                optimal = _host(abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                optimal = False
                if n_iter != max_iter:  # the next iteration needs the new loss and gradient
                    loss, flat_grad = self._evaluate(closure)
                    optimal = _host(abs(flat_grad).max()) <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval or optimal:
                break
            if _host(abs(d * t).max()) <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=_tensor(d), t=t, old_dirs=[_tensor(v) for v in old_dirs],
                     old_stps=[_tensor(v) for v in old_stps], ro=ro, H_diag=H_diag,
                     prev_flat_grad=_tensor(prev_flat_grad), prev_loss=prev_loss)
        return orig_loss

    def load_state_dict(self, state_dict):
        """The flat-vector state (d, prev_flat_grad, old_dirs, old_stps) isn't shaped like the first
        parameter, so it is restored here rather than by the per-parameter loader."""
        state_dict = dict(state_dict)
        first_id = state_dict["param_groups"][0]["params"][0] if state_dict["param_groups"] else None
        saved = dict(state_dict.get("state", {}))
        flat_state = saved.pop(first_id, None)
        super().load_state_dict(dict(state_dict, state=saved))
        self._params = self.param_groups[0]["params"]
        if flat_state is not None:
            p = self._params[0]
            self.state[p] = {k: _restore(v, p) for k, v in flat_state.items()}


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag):
    """-H g for the L-BFGS inverse-Hessian approximation H built from the stored (s, y) pairs."""
    q = -flat_grad
    al = [0.0] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = _dot(old_stps[i], q) * ro[i]
        q = q - al[i] * old_dirs[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = _dot(old_dirs[i], r) * ro[i]
        r = r + (al[i] - be_i) * old_stps[i]
    return r


def _real_view(a):
    """A flat view of a (complex numbers as interleaved real and imaginary parts, PyTorch's view_as_real)."""
    flat = a.reshape(-1)
    return flat.view(flat.real.dtype) if flat.dtype.kind == "c" else flat


def _host(x):
    """A 0-d array result as a numpy scalar of its dtype (float32 math stays float32, as in PyTorch)."""
    return x[()] if isinstance(x, (np.ndarray, np.generic)) else x.get()[()]


def _dot(a, b):
    return _host(a @ b)


def _array(v):
    return v._data if isinstance(v, Tensor) else v


def _tensor(a):
    return None if a is None else Tensor._make(a)


def _restore(value, param):
    """A copy of one saved state value on the parameter's device and dtype (torch tensors converted)."""
    if isinstance(value, (list, tuple)):
        return [_restore(v, param) for v in value]
    if type(value).__module__.startswith("torch"):
        value = value.detach().cpu().numpy()
        value = float(value) if value.ndim == 0 else Tensor._make(np.array(value))
    if isinstance(value, Tensor):
        data = value._data
        if data.dtype.kind == "f":
            data = data.astype(param._data.dtype, copy=False)
        return Tensor._make(move_array(data, param.device).copy())
    return value
