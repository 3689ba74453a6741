"""Numba kernels (no PyTensor ops here): what the Numba code of the ops calls.

* :mod:`.gemm`: register-tiled float32 matrix products; :mod:`.dot_rows`: a few rows
  times a transpose (``h @ W.T``) as dot products of rows; :mod:`.blas_rows`: BLAS products
  split by rows over Numba's threads; :mod:`.blas`: the GEMM the BLAS ops call.
* :mod:`.conv_tiles`, :mod:`.conv`, :mod:`.conv_grad`: convolution and its gradients.
* :mod:`.pool`: max and average pooling and their gradients.
* :mod:`.elementwise`: activations, softmax and losses, row by row.
* :mod:`.threefry`: Threefry-2x32 uniform numbers.
"""
