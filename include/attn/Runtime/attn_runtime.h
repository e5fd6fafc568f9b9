/*===- attn_runtime.h - C ABI of the attn GPU runtime -------------*- C -*-===*\
|*                                                                            *|
|* Part of the attn project.                                                  *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* Plain C interface to libAttnRuntime: load a compiled bundle (a directory   *|
|* with manifest.json and a PTX file), validate tensors against it, launch    *|
|* its kernels on a CUDA stream. Every function that can fail returns 0 on    *|
|* success and non-zero on failure, and then attn_last_error() returns the    *|
|* message of that failure (per thread). No C++ exception crosses this ABI.   *|
|* See docs/Runtime.md.                                                       *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef ATTN_RUNTIME_ATTN_RUNTIME_H
#define ATTN_RUNTIME_ATTN_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A loaded bundle; opaque. */
typedef struct attn_bundle attn_bundle;

/** Element types. ATTN_I1 is stored as one byte per element. */
typedef enum {
  ATTN_F16 = 1,
  ATTN_BF16 = 2,
  ATTN_F32 = 3,
  ATTN_I32 = 4,
  ATTN_I8 = 5,
  ATTN_I1 = 6
} attn_dtype;

/** A caller's tensor: device pointer, dtype, rank, shape[rank] and
 *  strides[rank] in elements. `strides` may be NULL, meaning contiguous
 *  row-major; `shape` may be NULL only when rank is 0. */
typedef struct {
  void *data;
  attn_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const int64_t *strides;
} attn_tensor;

/** Loads the bundle in `directory` into `*bundle`. Returns 0 on success; on
 *  failure `*bundle` is set to NULL. Touches no GPU. */
int attn_bundle_load(const char *directory, attn_bundle **bundle);

/** Checks `args[0..num_args)` against the bundle's manifest (count, dtypes,
 *  ranks, extents, symbols, contiguity, constraints, grids). Returns 0 when
 *  they match. Needs no GPU. */
int attn_bundle_validate(const attn_bundle *bundle, const attn_tensor *args,
                         int32_t num_args);

/** Validates `args`, then launches every kernel of the bundle in order on
 *  `stream` (a CUstream; NULL is the legacy default stream) in the current
 *  CUDA context (device 0's primary context if none is current). The PTX is
 *  loaded on the first launch in each context. Returns 0 on success; on a
 *  validation error nothing is launched. */
int attn_bundle_launch(attn_bundle *bundle, const attn_tensor *args,
                       int32_t num_args, void *stream);

/** Sets `*bytes` to the workspace `args` need for the bundle's scratch
 *  buffers (0 without scratch). Validates like attn_bundle_validate.
 *  Needs no GPU. */
int attn_bundle_workspace_bytes(const attn_bundle *bundle,
                                const attn_tensor *args, int32_t num_args,
                                uint64_t *bytes);

/** As attn_bundle_launch, with the scratch buffers in the caller's device
 *  memory `workspace` of `workspace_bytes` bytes (256-byte aligned, at
 *  least attn_bundle_workspace_bytes), kept alive by the caller until the
 *  stream has run the kernels. attn_bundle_launch uses a workspace the
 *  bundle owns (one per context and stream, grown when needed). */
int attn_bundle_launch_with_workspace(attn_bundle *bundle,
                                      const attn_tensor *args, int32_t num_args,
                                      void *stream, void *workspace,
                                      uint64_t workspace_bytes);

/** Whether launches read the counts of the bundle's input checks back
 *  (`read` non-zero, the default) and fail on bad data, synchronizing the
 *  stream once per call; with 0 they stay asynchronous (e.g. under CUDA
 *  graph capture), and bad data leaves the outputs unwritten without an
 *  error. Returns 1 for a NULL bundle. */
int attn_bundle_set_read_input_checks(attn_bundle *bundle, int read);

/** The number of arguments the bundle takes; -1 if `bundle` is NULL. */
int32_t attn_bundle_num_arguments(const attn_bundle *bundle);

/** The name of argument `index`; NULL if out of range. The string lives as
 *  long as the bundle. */
const char *attn_bundle_argument_name(const attn_bundle *bundle, int32_t index);

/** Frees a bundle and unloads its PTX modules; NULL is ignored. */
void attn_bundle_free(attn_bundle *bundle);

/** The message of the last failing call on this thread; "" if none. Valid
 *  until the next failing call on this thread. */
const char *attn_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTN_RUNTIME_ATTN_RUNTIME_H */
