"""Numba code of the activation and loss ops (:mod:`tgraph.ops.elementwise`).

Each op runs one kernel of :mod:`tgraph.backend.numba.kernels.elementwise` (float32 or
float64, the op's output dtype), wrapped by the array function of its kind: flat
(elementwise), by rows, or the fused softmax negative log-likelihood and its gradient.
"""

from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from tgraph.backend.numba.kernels import elementwise as kernels
from tgraph.backend.numba.runtime.cache import source_key
from tgraph.ops import elementwise as ew

__all__ = ["KERNELS"]

# op class -> (kernel -> array function, output dtype -> kernel)
KERNELS = {
    ew.Tanh: (kernels.apply_flat, kernels.TANH_FLAT),
    ew.Sigmoid: (kernels.apply_flat, kernels.SIGMOID_FLAT),
    ew.Softplus: (kernels.apply_flat, kernels.SOFTPLUS_FLAT),
    ew.Elu: (kernels.apply_flat, kernels.ELU_FLAT),
    ew.Softmax: (kernels.apply_rows, kernels.SOFTMAX_ROWS),
    ew.LogSoftmax: (kernels.apply_rows, kernels.LOG_SOFTMAX_ROWS),
    ew.SoftmaxGrad: (kernels.apply_rows2, kernels.SOFTMAX_GRAD_ROWS),
    ew.LogSoftmaxGrad: (kernels.apply_rows2, kernels.LOG_SOFTMAX_GRAD_ROWS),
    ew.SoftmaxNLL: (kernels.apply_softmax_nll, kernels.SOFTMAX_NLL_ROWS),
    ew.SoftmaxNLLGrad: (kernels.apply_softmax_nll_grad, kernels.SOFTMAX_NLL_GRAD_ROWS),
}
# Numba's on-disk cache does not notice edits to called kernels; keying on the sources does.
_SOURCE_KEY = source_key([kernels.__file__, __file__, ew.__file__])


def _numba_funcify(op, node, **kwargs):
    """The op's array function, and a cache key that changes with the kernels' source."""
    dtypes = "_".join(v.dtype for v in node.inputs)
    key = f"tgraph_{type(op).__name__}_{dtypes}_{_SOURCE_KEY}"
    apply, kernel_by_dtype = KERNELS[type(op)]
    return apply(kernel_by_dtype[node.outputs[0].dtype]), key


for _op_class in KERNELS:
    register_funcify_and_cache_key(_op_class)(_numba_funcify)
