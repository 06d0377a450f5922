"""Names the real cupy package exposes, read with dir() from the cupy-cuda12x 14.2.0 wheel
(`pip download --no-deps cupy-cuda12x`, unzipped, with `pip install --no-deps --target DIR cuda-pathfinder` on
sys.path: `import cupy` works without a GPU, only calls into CUDA fail). Each entry is dir() of that object.
The fake exposes nothing else."""

CUPY_VERSION = '14.2.0'

NAMES = {
    'cupy': frozenset("""
        AxisError ComplexWarning DataSource ElementwiseKernel Inf Infinity ModuleDeprecationWarning NAN NINF
        NZERO NaN PINF PZERO RankWarning RawKernel RawModule ReductionKernel TooHardError
        VisibleDeprecationWarning __builtins__ __cached__ __doc__ __file__ __loader__ __name__ __package__
        __path__ __spec__ __version__ _binary _core _creation _cupy _default_memory_pool
        _default_pinned_memory_pool _embed_signatures _environment _functional _functools _indexing _io
        _lazy_import _logic _manipulation _math _misc _numpy _padding _sorting _statistics _sys _template _util
        _version abs absolute acos acosh add all allclose alltrue amax amin angle annotations any append
        apply_along_axis apply_over_axes arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax
        argmin argpartition argsort argwhere around array array2string array_equal array_equiv array_repr
        array_split array_str asanyarray asarray asarray_chkfinite ascontiguousarray asfarray asfortranarray
        asin asinh asnumpy astype atan atan2 atanh atleast_1d atleast_2d atleast_3d average bartlett base_repr
        binary_repr bincount bitwise_and bitwise_count bitwise_invert bitwise_left_shift bitwise_not bitwise_or
        bitwise_right_shift bitwise_xor blackman bool bool_ broadcast broadcast_arrays broadcast_shapes
        broadcast_to byte byte_bounds c_ can_cast cbrt cdouble ceil cfloat choose clear_memo clip column_stack
        common_type complex128 complex64 complex_ complexfloating compress concat concatenate conj conjugate
        convolve copy copysign copyto corrcoef correlate cos cosh count_nonzero cov cross csingle cuda cumprod
        cumproduct cumsum cumulative_prod cumulative_sum deg2rad degrees delete diag diag_indices
        diag_indices_from diagflat diagonal diff digitize disable_experimental_feature_warning disp divide
        divmod dot double dsplit dstack dtype e ediff1d einsum empty empty_like equal euler_gamma exceptions exp
        exp2 expand_dims expm1 extract eye fabs fft fill_diagonal find_common_type finfo fix flatiter
        flatnonzero flip fliplr flipud float16 float32 float64 float_ float_power floating floor floor_divide
        fmax fmin fmod format_float_positional format_float_scientific format_parser frexp fromDlpack
        from_dlpack frombuffer fromfile fromfunction fromiter fromstring full full_like fuse gcd generic
        genfromtxt get_array_module get_array_wrap get_default_memory_pool get_default_pinned_memory_pool
        get_printoptions gradient greater greater_equal half hamming hanning heaviside histogram histogram2d
        histogramdd hsplit hstack hypot i0 identity iinfo imag in1d index_exp indices inexact inf infty inner
        int16 int32 int64 int8 int_ intc integer interp intersect1d intp invert is_available isclose iscomplex
        iscomplexobj isdtype isfinite isfortran isin isinf isnan isneginf isposinf isreal isrealobj isscalar
        issctype issubclass_ issubdtype issubsctype iterable ix_ kaiser kron lcm ldexp left_shift less
        less_equal lexsort lib linalg linspace load loadtxt log log10 log1p log2 logaddexp logaddexp2
        logical_and logical_not logical_or logical_xor logspace long longlong make_aligned_dtype mask_indices
        matmul matrix_transpose max maximum may_share_memory mean median memoize meshgrid mgrid min
        min_scalar_type minimum mintypecode mod modf moveaxis msort multiply nan nan_to_num nanargmax nanargmin
        nancumprod nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar ndarray ndim ndindex
        negative newaxis nextafter nonzero not_equal number obj2sctype ogrid ones ones_like outer packbits pad
        partition percentile permute_dims pi piecewise place poly poly1d polyadd polyfit polymul polynomial
        polysub polyval positive pow power printoptions prod product promote_types ptp put put_along_axis
        putmask quantile r_ rad2deg radians random ravel ravel_multi_index real real_if_close reciprocal
        remainder repeat require reshape resize result_type right_shift rint roll rollaxis roots rot90 round
        round_ row_stack s_ safe_eval save savetxt savez savez_compressed sctype2char searchsorted select
        set_printoptions set_string_function setdiff1d setxor1d shape shares_memory short show_config sign
        signbit signedinteger sin sinc single singlecomplex sinh size sometrue sort sort_complex split sqrt
        square squeeze stack std subtract sum swapaxes take take_along_axis tan tanh tensordot testing tile
        trace transpose trapezoid trapz tri tril tril_indices tril_indices_from trim_zeros triu triu_indices
        triu_indices_from true_divide trunc typename typing ubyte ufunc uint uint16 uint32 uint64 uint8 uintc
        uintp ulong ulonglong union1d unique unique_all unique_counts unique_inverse unique_values unpackbits
        unravel_index unsignedinteger unwrap ushort vander var vdot vectorize vsplit vstack where who zeros
        zeros_like
    """.split()),
    'cupy.ndarray': frozenset("""
        T __abs__ __add__ __and__ __array__ __array_finalize__ __array_function__ __array_priority__
        __array_ufunc__ __bool__ __bytes__ __class__ __class_getitem__ __complex__ __copy__
        __cuda_array_interface__ __deepcopy__ __delattr__ __delitem__ __dir__ __div__ __divmod__ __dlpack__
        __dlpack_device__ __doc__ __eq__ __float__ __floordiv__ __format__ __ge__ __getattribute__ __getitem__
        __getstate__ __gt__ __hash__ __hex__ __iadd__ __iand__ __idiv__ __ifloordiv__ __ilshift__ __imod__
        __imul__ __init__ __init_subclass__ __int__ __invert__ __ior__ __ipow__ __irshift__ __isub__ __iter__
        __itruediv__ __ixor__ __le__ __len__ __lshift__ __lt__ __matmul__ __mod__ __module__ __mul__ __ne__
        __neg__ __new__ __oct__ __or__ __pos__ __pow__ __pyx_vtable__ __radd__ __rand__ __rdivmod__ __reduce__
        __reduce_ex__ __repr__ __rfloordiv__ __rlshift__ __rmatmul__ __rmod__ __rmul__ __ror__ __rpow__
        __rrshift__ __rshift__ __rsub__ __rtruediv__ __rxor__ __setattr__ __setitem__ __sizeof__ __slots__
        __str__ __sub__ __subclasshook__ __truediv__ __xor__ _add_reduceat _astype _c_contiguous
        _check_kind_sort _f_contiguous _index_32_bits _init _scatter_op _set_shape_and_strides _shape _strides
        all any argmax argmin argpartition argsort astype base byteswap choose clip compress conj conjugate copy
        cstruct cumprod cumsum data device diagonal dot dtype dump dumps fill flags flat flatten get imag item
        itemsize mT max mdspan mean min nbytes ndim nonzero partition prod ptp put ravel real reduced_view
        repeat reshape round scatter_add scatter_max scatter_min searchsorted set shape size sort squeeze std
        strides sum swapaxes take toDlpack tobytes tofile tolist trace transpose var view
    """.split()),
    'cupyx': frozenset("""
        DeviceSynchronized GeneralizedUFunc __builtins__ __cached__ __doc__ __file__ __getattr__ __loader__
        __name__ __package__ __path__ __spec__ _gufunc _pinned_array _rsqrt _runtime _scatter _ufunc_config
        allow_synchronize annotations empty_like_pinned empty_pinned errstate get_runtime_info geterr linalg
        optimizing profiler rsqrt scatter_add scatter_max scatter_min scipy seterr time zeros_like_pinned
        zeros_pinned
    """.split()),
    'cupy.random': frozenset("""
        BitGenerator Generator MRG32k3a Philox4x3210 RandomState XORWOW __builtins__ __cached__ __doc__ __file__
        __getattr__ __loader__ __name__ __package__ __path__ __spec__ _bit_generator _cupy _distributions
        _generator _generator_api _kernels _numpy _permutations _runtime _sample annotations beta binomial bytes
        chisquare choice default_rng dirichlet exponential f gamma geometric get_random_state gumbel
        hypergeometric laplace logistic lognormal logseries multinomial multivariate_normal negative_binomial
        noncentral_chisquare noncentral_f normal pareto permutation poisson power rand randint randn random
        random_integers random_sample ranf rayleigh reset_states sample seed set_random_state shuffle
        standard_cauchy standard_exponential standard_gamma standard_normal standard_t triangular uniform
        vonmises wald weibull zipf
    """.split()),
    'cupy.cuda': frozenset("""
        BaseMemory CFunctionAllocator Device Event ExternalStream Function Graph ManagedMemory Memory
        MemoryAsync MemoryAsyncPool MemoryHook MemoryPointer MemoryPool Module PinnedMemory PinnedMemoryPointer
        PinnedMemoryPool PythonFunctionAllocator Stream UnownedMemory _UnavailableModule __builtins__ __cached__
        __doc__ __file__ __getattr__ __loader__ __name__ __package__ __path__ __spec__ _available
        _compiler_cache _cupy _importlib _os alloc alloc_pinned_memory annotations common compiler contextlib
        cub device driver function get_allocator get_cublas_handle get_cuda_path get_current_stream
        get_device_id get_elapsed_time get_hipcc_path get_local_runtime_version get_nvcc_path get_rocm_path
        graph is_available malloc_async malloc_managed memory memory_hook memory_hooks nvrtc nvtx pinned_memory
        profile profiler runtime set_allocator set_pinned_memory_allocator stream texture thrust using_allocator
        warnings
    """.split()),
    'cupy.cuda.runtime': frozenset("""
        CUDARuntimeError CUDA_C_16F CUDA_C_32F CUDA_C_64F CUDA_C_8I CUDA_C_8U CUDA_R_16BF CUDA_R_16F CUDA_R_32F
        CUDA_R_64F CUDA_R_8I CUDA_R_8U MemPoolProps PointerAttributes __builtins__ __cached__ __doc__ __file__
        __loader__ __name__ __package__ __spec__ check_status createSurfaceObject createTextureObject
        cudaAddressModeBorder cudaAddressModeClamp cudaAddressModeMirror cudaAddressModeWrap cudaArrayDefault
        cudaArraySurfaceLoadStore cudaChannelFormatKindFloat cudaChannelFormatKindNone
        cudaChannelFormatKindSigned cudaChannelFormatKindUnsigned cudaCpuDeviceId cudaDevAttrAsyncEngineCount
        cudaDevAttrCanFlushRemoteWrites cudaDevAttrCanMapHostMemory cudaDevAttrCanUseHostPointerForRegisteredMem
        cudaDevAttrClockRate cudaDevAttrComputeMode cudaDevAttrComputePreemptionSupported
        cudaDevAttrConcurrentKernels cudaDevAttrConcurrentManagedAccess cudaDevAttrCooperativeLaunch
        cudaDevAttrCooperativeMultiDeviceLaunch cudaDevAttrDirectManagedMemAccessFromHost cudaDevAttrEccEnabled
        cudaDevAttrGPUDirectRDMAFlushWritesOptions cudaDevAttrGPUDirectRDMASupported
        cudaDevAttrGPUDirectRDMAWritesOrdering cudaDevAttrGlobalL1CacheSupported cudaDevAttrGlobalMemoryBusWidth
        cudaDevAttrGpuOverlap cudaDevAttrHostNativeAtomicSupported cudaDevAttrHostRegisterReadOnlySupported
        cudaDevAttrHostRegisterSupported cudaDevAttrIntegrated cudaDevAttrIsMultiGpuBoard
        cudaDevAttrKernelExecTimeout cudaDevAttrL2CacheSize cudaDevAttrLocalL1CacheSupported
        cudaDevAttrManagedMemory cudaDevAttrMaxBlockDimX cudaDevAttrMaxBlockDimY cudaDevAttrMaxBlockDimZ
        cudaDevAttrMaxBlocksPerMultiprocessor cudaDevAttrMaxGridDimX cudaDevAttrMaxGridDimY
        cudaDevAttrMaxGridDimZ cudaDevAttrMaxPitch cudaDevAttrMaxRegistersPerBlock
        cudaDevAttrMaxRegistersPerMultiprocessor cudaDevAttrMaxSharedMemoryPerBlock
        cudaDevAttrMaxSharedMemoryPerBlockOptin cudaDevAttrMaxSharedMemoryPerMultiprocessor
        cudaDevAttrMaxSurface1DLayeredLayers cudaDevAttrMaxSurface1DLayeredWidth cudaDevAttrMaxSurface1DWidth
        cudaDevAttrMaxSurface2DHeight cudaDevAttrMaxSurface2DLayeredHeight cudaDevAttrMaxSurface2DLayeredLayers
        cudaDevAttrMaxSurface2DLayeredWidth cudaDevAttrMaxSurface2DWidth cudaDevAttrMaxSurface3DDepth
        cudaDevAttrMaxSurface3DHeight cudaDevAttrMaxSurface3DWidth cudaDevAttrMaxSurfaceCubemapLayeredLayers
        cudaDevAttrMaxSurfaceCubemapLayeredWidth cudaDevAttrMaxSurfaceCubemapWidth
        cudaDevAttrMaxTexture1DLayeredLayers cudaDevAttrMaxTexture1DLayeredWidth
        cudaDevAttrMaxTexture1DLinearWidth cudaDevAttrMaxTexture1DMipmappedWidth cudaDevAttrMaxTexture1DWidth
        cudaDevAttrMaxTexture2DGatherHeight cudaDevAttrMaxTexture2DGatherWidth cudaDevAttrMaxTexture2DHeight
        cudaDevAttrMaxTexture2DLayeredHeight cudaDevAttrMaxTexture2DLayeredLayers
        cudaDevAttrMaxTexture2DLayeredWidth cudaDevAttrMaxTexture2DLinearHeight
        cudaDevAttrMaxTexture2DLinearPitch cudaDevAttrMaxTexture2DLinearWidth
        cudaDevAttrMaxTexture2DMipmappedHeight cudaDevAttrMaxTexture2DMipmappedWidth
        cudaDevAttrMaxTexture2DWidth cudaDevAttrMaxTexture3DDepth cudaDevAttrMaxTexture3DDepthAlt
        cudaDevAttrMaxTexture3DHeight cudaDevAttrMaxTexture3DHeightAlt cudaDevAttrMaxTexture3DWidth
        cudaDevAttrMaxTexture3DWidthAlt cudaDevAttrMaxTextureCubemapLayeredLayers
        cudaDevAttrMaxTextureCubemapLayeredWidth cudaDevAttrMaxTextureCubemapWidth cudaDevAttrMaxThreadsPerBlock
        cudaDevAttrMaxThreadsPerMultiProcessor cudaDevAttrMaxTimelineSemaphoreInteropSupported
        cudaDevAttrMemoryClockRate cudaDevAttrMemoryPoolSupportedHandleTypes cudaDevAttrMemoryPoolsSupported
        cudaDevAttrMultiGpuBoardGroupID cudaDevAttrMultiProcessorCount cudaDevAttrPageableMemoryAccess
        cudaDevAttrPageableMemoryAccessUsesHostPageTables cudaDevAttrPciBusId cudaDevAttrPciDeviceId
        cudaDevAttrPciDomainId cudaDevAttrReserved92 cudaDevAttrReserved93 cudaDevAttrReserved94
        cudaDevAttrReservedSharedMemoryPerBlock cudaDevAttrSingleToDoublePrecisionPerfRatio
        cudaDevAttrSparseCudaArraySupported cudaDevAttrStreamPrioritiesSupported cudaDevAttrSurfaceAlignment
        cudaDevAttrTccDriver cudaDevAttrTextureAlignment cudaDevAttrTexturePitchAlignment
        cudaDevAttrTotalConstantMemory cudaDevAttrUnifiedAddressing cudaDevAttrWarpSize cudaFilterModeLinear
        cudaFilterModePoint cudaGraphDebugDotFlagsConditionalNodeParams cudaGraphDebugDotFlagsEventNodeParams
        cudaGraphDebugDotFlagsExtSemasSignalNodeParams cudaGraphDebugDotFlagsExtSemasWaitNodeParams
        cudaGraphDebugDotFlagsHandles cudaGraphDebugDotFlagsHostNodeParams
        cudaGraphDebugDotFlagsKernelNodeAttributes cudaGraphDebugDotFlagsKernelNodeParams
        cudaGraphDebugDotFlagsMemcpyNodeParams cudaGraphDebugDotFlagsMemsetNodeParams
        cudaGraphDebugDotFlagsVerbose cudaInvalidDeviceId cudaIpcMemLazyEnablePeerAccess
        cudaLimitDevRuntimePendingLaunchCount cudaLimitDevRuntimeSyncDepth cudaLimitMallocHeapSize
        cudaLimitMaxL2FetchGranularity cudaLimitPrintfFifoSize cudaLimitStackSize cudaMemAdviseSetAccessedBy
        cudaMemAdviseSetPreferredLocation cudaMemAdviseSetReadMostly cudaMemAdviseUnsetAccessedBy
        cudaMemAdviseUnsetPreferredLocation cudaMemAdviseUnsetReadMostly cudaMemAllocationTypePinned
        cudaMemAttachGlobal cudaMemAttachHost cudaMemAttachSingle cudaMemHandleTypeNone
        cudaMemHandleTypePosixFileDescriptor cudaMemLocationTypeDevice cudaMemLocationTypeHost
        cudaMemLocationTypeHostNuma cudaMemLocationTypeHostNumaCurrent cudaMemLocationTypeInvalid
        cudaMemPoolAttrReleaseThreshold cudaMemPoolAttrReservedMemCurrent cudaMemPoolAttrReservedMemHigh
        cudaMemPoolAttrUsedMemCurrent cudaMemPoolAttrUsedMemHigh cudaMemPoolReuseAllowInternalDependencies
        cudaMemPoolReuseAllowOpportunistic cudaMemPoolReuseFollowEventDependencies cudaMemoryTypeDevice
        cudaMemoryTypeHost cudaReadModeElementType cudaReadModeNormalizedFloat cudaResourceTypeArray
        cudaResourceTypeLinear cudaResourceTypeMipmappedArray cudaResourceTypePitch2D destroySurfaceObject
        destroyTextureObject deviceCanAccessPeer deviceDisablePeerAccess deviceEnablePeerAccess
        deviceGetAttribute deviceGetByPCIBusId deviceGetDefaultMemPool deviceGetLimit deviceGetMemPool
        deviceGetPCIBusId deviceSetLimit deviceSetMemPool deviceSynchronize driverGetVersion eventBlockingSync
        eventCreate eventCreateWithFlags eventDefault eventDestroy eventDisableTiming eventElapsedTime
        eventInterprocess eventQuery eventRecord eventSynchronize free freeArray freeAsync freeHost getDevice
        getDeviceCount getDeviceProperties graphDebugDotPrint graphDestroy graphExecDestroy graphInstantiate
        graphLaunch graphUpload hostAlloc hostAllocDefault hostAllocMapped hostAllocPortable
        hostAllocWriteCombined hostRegister hostUnregister ipcCloseMemHandle ipcGetEventHandle ipcGetMemHandle
        ipcOpenEventHandle ipcOpenMemHandle is_hip launchHostFunc malloc malloc3DArray mallocArray mallocAsync
        mallocFromPoolAsync mallocManaged memAdvise memGetInfo memPoolCreate memPoolDestroy memPoolGetAttribute
        memPoolSetAttribute memPoolTrimTo memPrefetchAsync memcpy memcpy2D memcpy2DAsync memcpy2DFromArray
        memcpy2DFromArrayAsync memcpy2DToArray memcpy2DToArrayAsync memcpy3D memcpy3DAsync memcpyAsync
        memcpyDefault memcpyDeviceToDevice memcpyDeviceToHost memcpyHostToDevice memcpyHostToHost memcpyPeer
        memcpyPeerAsync memoryTypeDevice memoryTypeHost memoryTypeManaged memoryTypeUnregistered memset
        memsetAsync pointerGetAttributes pointerGetMemoryType profilerStart profilerStop runtimeGetVersion
        setDevice streamAddCallback streamBeginCapture streamCaptureModeGlobal streamCaptureModeRelaxed
        streamCaptureModeThreadLocal streamCaptureStatusActive streamCaptureStatusInvalidated
        streamCaptureStatusNone streamCreate streamCreateWithFlags streamCreateWithPriority streamDefault
        streamDestroy streamEndCapture streamGetFlags streamGetPriority streamIsCapturing streamLegacy
        streamNonBlocking streamPerThread streamQuery streamSynchronize streamWaitEvent
    """.split()),
    'cupy.cuda.Device': frozenset("""
        __class__ __delattr__ __dir__ __doc__ __enter__ __eq__ __exit__ __format__ __ge__ __getattribute__
        __getstate__ __gt__ __hash__ __init__ __init_subclass__ __int__ __le__ __lt__ __ne__ __new__
        __pyx_vtable__ __reduce__ __reduce_ex__ __repr__ __setattr__ __setstate__ __sizeof__ __str__
        __subclasshook__ _get_handle attributes compute_capability cublas_handle cusolver_handle
        cusolver_sp_handle cusparse_handle cutensor_handle from_pci_bus_id id mem_info pci_bus_id synchronize
        use
    """.split()),
    'cupy.linalg': frozenset("""
        LinAlgError __all__ __builtins__ __cached__ __doc__ __file__ __loader__ __name__ __package__ __path__
        __spec__ _decomposition _eigenvalue _einsum _einsum_cutn _einsum_opt _norms _product _solve _util
        annotations cholesky cond cross det eig eigh eigvals eigvalsh inv lstsq matmul matrix_power matrix_rank
        matrix_transpose norm pinv qr slogdet solve svd tensorinv tensorsolve
    """.split()),
    'cupy.fft': frozenset("""
        __all__ __builtins__ __cached__ __doc__ __file__ __loader__ __name__ __package__ __path__ __spec__
        _cache _callback _config _fft config fft fft2 fftfreq fftn fftshift hfft ifft ifft2 ifftn ifftshift
        ihfft irfft irfft2 irfftn rfft rfft2 rfftfreq rfftn
    """.split()),
    'cupy.random.Generator': frozenset("""
        __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__ __getattribute__ __getstate__
        __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ __module__ __ne__ __new__ __reduce__
        __reduce_ex__ __repr__ __setattr__ __sizeof__ __str__ __subclasshook__ __weakref__ _check_output_array
        beta binomial chisquare dirichlet exponential f gamma geometric hypergeometric integers logseries
        poisson power random standard_exponential standard_gamma standard_normal uniform
    """.split()),
    'cupy.random.RandomState': frozenset("""
        __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__ __getattribute__ __getstate__
        __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ __module__ __ne__ __new__ __reduce__
        __reduce_ex__ __repr__ __setattr__ __sizeof__ __str__ __subclasshook__ __weakref__ _curand_generate
        _generate_normal _get_indices _get_seed _gumbel_kernel _interval _interval_sample_modulo
        _interval_upper_limit _kernel_get_indices _laplace_kernel _mod1_kernel _permutation _random_sample_raw
        _scale_kernel _triangular_kernel _wald_kernel beta binomial chisquare choice dirichlet exponential f
        gamma geometric gumbel hypergeometric laplace logistic lognormal logseries multivariate_normal
        negative_binomial noncentral_chisquare noncentral_f normal pareto permutation poisson power rand randint
        randn random_sample rayleigh seed shuffle standard_cauchy standard_exponential standard_gamma
        standard_normal standard_t tomaxint triangular uniform vonmises wald weibull zipf
    """.split()),
    'cupy.cuda.MemoryPool': frozenset("""
        __class__ __delattr__ __dir__ __doc__ __eq__ __format__ __ge__ __getattribute__ __getstate__ __gt__
        __hash__ __init__ __init_subclass__ __le__ __lt__ __ne__ __new__ __pyx_vtable__ __reduce__ __reduce_ex__
        __repr__ __setattr__ __setstate__ __sizeof__ __str__ __subclasshook__ free_all_blocks free_all_free
        free_bytes get_limit malloc n_free_blocks set_limit total_bytes used_bytes
    """.split()),
    'cupy.cuda.Stream': frozenset("""
        __class__ __cuda_stream__ __del__ __delattr__ __dict__ __dir__ __doc__ __enter__ __eq__ __exit__
        __format__ __ge__ __getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__
        __module__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__ __sizeof__ __str__
        __subclasshook__ __weakref__ add_callback begin_capture done end_capture from_external is_capturing
        is_non_blocking launch_host_func null priority ptds record synchronize use wait_event
    """.split()),
    'cupy.cuda.Event': frozenset("""
        __class__ __del__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__ __getattribute__
        __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ __module__ __ne__ __new__
        __reduce__ __reduce_ex__ __repr__ __setattr__ __sizeof__ __str__ __subclasshook__ __weakref__ done
        record synchronize
    """.split()),
    'cupy.dtype': frozenset("""
        __bool__ __class__ __class_getitem__ __delattr__ __dir__ __doc__ __eq__ __format__ __ge__
        __getattribute__ __getitem__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __len__
        __lt__ __mul__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __rmul__ __setattr__ __setstate__
        __sizeof__ __str__ __subclasshook__ alignment base byteorder char descr fields flags hasobject
        isalignedstruct isbuiltin isnative itemsize kind metadata name names ndim newbyteorder num shape str
        subdtype type
    """.split()),
}
