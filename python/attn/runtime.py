"""ctypes bindings to libAttnRuntime: load a compiled attn bundle and launch it
on PyTorch tensors.

    from attn.runtime import Bundle
    causal = Bundle("build/bundles/causal")
    causal(q, k, v, o, lse)              # on torch.cuda.current_stream()
    causal(q, k, v, o, lse, stream=s)    # a torch.cuda.Stream or a raw handle

The shared library is found through $ATTN_RUNTIME_LIB (a path to
libAttnRuntime.so), then next to this package, then by the dynamic loader's
search path. torch is imported only when a call needs the current stream;
tensors are duck-typed (data_ptr(), shape, stride(), dtype), so validate()
works without a GPU. Every failure raises AttnError with the runtime's
message. See docs/Runtime.md.
"""

import ctypes
import operator
import os
import threading

__all__ = ["AttnError", "Bundle", "load_library"]


class AttnError(RuntimeError):
    """A failure reported by the attn runtime; str() is its message."""


# attn_dtype codes, keyed by str(torch.dtype) so that mapping a tensor's dtype
# does not need torch imported here.
_DTYPES = {
    "torch.float16": 1,
    "torch.bfloat16": 2,
    "torch.float32": 3,
    "torch.int32": 4,
    "torch.int8": 5,
    "torch.bool": 6,
}


class _Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
    ]


_library = None
_library_lock = threading.Lock()


def _candidates():
    env = os.environ.get("ATTN_RUNTIME_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "libAttnRuntime.so"), "libAttnRuntime.so"]


def load_library():
    """Returns the loaded runtime library (loading it on first use)."""
    global _library
    with _library_lock:
        if _library is not None:
            return _library
        errors = []
        for candidate in _candidates():
            try:
                lib = ctypes.CDLL(candidate)
                break
            except OSError as error:
                errors.append(str(error))
        else:
            raise AttnError(
                "cannot load libAttnRuntime.so (set ATTN_RUNTIME_LIB to its "
                "path): " + "; ".join(errors))

        lib.attn_bundle_load.argtypes = [
            ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.attn_bundle_load.restype = ctypes.c_int
        lib.attn_bundle_validate.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32]
        lib.attn_bundle_validate.restype = ctypes.c_int
        lib.attn_bundle_launch.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32,
            ctypes.c_void_p]
        lib.attn_bundle_launch.restype = ctypes.c_int
        lib.attn_bundle_workspace_bytes.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32,
            ctypes.POINTER(ctypes.c_uint64)]
        lib.attn_bundle_workspace_bytes.restype = ctypes.c_int
        lib.attn_bundle_launch_with_workspace.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(_Tensor), ctypes.c_int32,
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
        lib.attn_bundle_launch_with_workspace.restype = ctypes.c_int
        lib.attn_bundle_set_read_input_checks.argtypes = [
            ctypes.c_void_p, ctypes.c_int]
        lib.attn_bundle_set_read_input_checks.restype = ctypes.c_int
        lib.attn_bundle_num_arguments.argtypes = [ctypes.c_void_p]
        lib.attn_bundle_num_arguments.restype = ctypes.c_int32
        lib.attn_bundle_argument_name.argtypes = [
            ctypes.c_void_p, ctypes.c_int32]
        lib.attn_bundle_argument_name.restype = ctypes.c_char_p
        lib.attn_bundle_free.argtypes = [ctypes.c_void_p]
        lib.attn_bundle_free.restype = None
        lib.attn_last_error.argtypes = []
        lib.attn_last_error.restype = ctypes.c_char_p
        _library = lib
        return lib


def _extents(name, what, values, allow_negative=False):
    """`values` as a tuple of Python ints that fit an int64 (and are not
    negative unless allowed); raises AttnError naming the argument."""
    result = []
    for value in values:
        try:
            value = operator.index(value)
        except TypeError:
            raise AttnError("argument '%s': %s holds %r, not an integer"
                            % (name, what, value)) from None
        if value >= 2 ** 63 or value < (-2 ** 63 if allow_negative else 0):
            raise AttnError("argument '%s': %s holds %d, outside [%s, 2^63)"
                            % (name, what, value,
                               "-2^63" if allow_negative else "0"))
        result.append(value)
    return tuple(result)


def _raise_last_error(lib):
    message = lib.attn_last_error()
    raise AttnError(message.decode("utf-8", "replace") if message else
                    "unknown attn runtime error")


def _stream_handle(stream):
    """A CUstream value (int) for None, an int, or a torch.cuda.Stream."""
    if stream is None:
        import torch  # Lazily: only launches need torch's current stream.
        return torch.cuda.current_stream().cuda_stream
    if isinstance(stream, int):
        return stream
    handle = getattr(stream, "cuda_stream", None)
    if handle is None:
        raise TypeError("stream must be None, an int CUstream or an object "
                        "with a cuda_stream attribute, got %r" % (stream,))
    return handle


class Bundle:
    """A loaded attn bundle (a directory with manifest.json and PTX)."""

    def __init__(self, path):
        self._lib = load_library()
        self._handle = None
        handle = ctypes.c_void_p()
        if self._lib.attn_bundle_load(os.fsencode(path),
                                      ctypes.byref(handle)) != 0:
            _raise_last_error(self._lib)
        self._handle = handle
        self._read_input_checks = True
        self.path = os.fspath(path)
        count = self._lib.attn_bundle_num_arguments(handle)
        # A name that is not valid UTF-8 is shown escaped, not raised on.
        self.argument_names = tuple(
            self._lib.attn_bundle_argument_name(handle, i).decode(
                "utf-8", "backslashreplace")
            for i in range(count))

    @property
    def read_input_checks(self):
        """Whether a call reads the bundle's input checks back (default
        True): bad data (e.g. bucket ids out of range) raises AttnError,
        at the price of one stream synchronization per call. False keeps
        calls asynchronous (e.g. for CUDA graph capture); the kernels still
        write nothing on bad data, but nothing reports it."""
        return self._read_input_checks

    @read_input_checks.setter
    def read_input_checks(self, read):
        if self._lib.attn_bundle_set_read_input_checks(
                self._handle, 1 if read else 0) != 0:
            _raise_last_error(self._lib)
        self._read_input_checks = bool(read)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.attn_bundle_free(handle)
            self._handle = None

    def __repr__(self):
        return "Bundle(%r, arguments=%s)" % (self.path,
                                            ", ".join(self.argument_names))

    def _tensors(self, tensors):
        """Builds the attn_tensor array; returns it with the buffers that
        must stay alive during the call."""
        array = (_Tensor * len(tensors))()
        keep = []
        for i, tensor in enumerate(tensors):
            name = (self.argument_names[i] if i < len(self.argument_names)
                    else "#%d" % i)
            code = _DTYPES.get(str(getattr(tensor, "dtype", None)))
            if code is None:
                raise AttnError("argument '%s': dtype %s is not supported "
                                "(expected one of %s)" % (
                                    name, getattr(tensor, "dtype", None),
                                    ", ".join(sorted(_DTYPES))))
            shape = _extents(name, "shape", tensor.shape)
            strides = _extents(name, "stride()", tensor.stride(),
                               allow_negative=True)
            if len(strides) != len(shape):
                raise AttnError("argument '%s': stride() has %d entries for "
                                "a shape of rank %d" % (name, len(strides),
                                                        len(shape)))
            shape_buffer = (ctypes.c_int64 * max(len(shape), 1))(*shape)
            stride_buffer = (ctypes.c_int64 * max(len(strides), 1))(*strides)
            keep += [shape_buffer, stride_buffer]
            array[i].data = tensor.data_ptr() or None
            array[i].dtype = code
            array[i].rank = len(shape)
            array[i].shape = ctypes.cast(shape_buffer,
                                         ctypes.POINTER(ctypes.c_int64))
            array[i].strides = ctypes.cast(stride_buffer,
                                           ctypes.POINTER(ctypes.c_int64))
        return array, keep

    def validate(self, *tensors):
        """Checks the tensors against the manifest without launching; raises
        AttnError naming the first mismatch. Needs no GPU."""
        array, keep = self._tensors(tensors)
        if self._lib.attn_bundle_validate(self._handle, array,
                                          len(tensors)) != 0:
            _raise_last_error(self._lib)
        del keep

    def workspace_bytes(self, *tensors):
        """The bytes of workspace the bundle's scratch buffers need for these
        tensors (0 without scratch); validates them. Needs no GPU."""
        array, keep = self._tensors(tensors)
        size = ctypes.c_uint64()
        if self._lib.attn_bundle_workspace_bytes(
                self._handle, array, len(tensors), ctypes.byref(size)) != 0:
            _raise_last_error(self._lib)
        del keep
        return size.value

    def __call__(self, *tensors, stream=None, workspace=None):
        """Launches the bundle's kernels on `stream` (default: torch's
        current stream) with the tensors as arguments, in manifest order.
        `workspace`, a contiguous CUDA tensor of at least workspace_bytes()
        bytes, holds the scratch buffers (e.g. from torch's caching
        allocator); without it the bundle uses a workspace of its own."""
        handle = _stream_handle(stream)
        array, keep = self._tensors(tensors)
        if workspace is None:
            status = self._lib.attn_bundle_launch(
                self._handle, array, len(tensors), handle or None)
        else:
            if not workspace.is_contiguous():
                raise AttnError("workspace must be contiguous")
            status = self._lib.attn_bundle_launch_with_workspace(
                self._handle, array, len(tensors), handle or None,
                workspace.data_ptr() or None,
                workspace.numel() * workspace.element_size())
        if status != 0:
            _raise_last_error(self._lib)
        del keep
