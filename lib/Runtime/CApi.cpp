//===- CApi.cpp - C ABI of the attn GPU runtime -----------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Thin wrappers over attn::runtime::Bundle. Every entry point catches all
// exceptions (std::bad_alloc is the only one the runtime can raise), stores
// the failure message in a thread-local string for attn_last_error(), and
// returns non-zero.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/attn_runtime.h"

#include "Internal.h"
#include "attn/Runtime/Runtime.h"

#include <cstring>
#include <exception>
#include <string>

static_assert(sizeof(attn_dtype) == sizeof(int32_t),
              "attn_dtype is read as an int32_t");

using namespace attn::runtime;

struct attn_bundle {
  std::unique_ptr<Bundle> bundle;
};

namespace {

thread_local std::string lastError;

int fail(const std::string &message) {
  lastError = message;
  return 1;
}

/// Runs `body` (returning a Status), turning failures and exceptions into a
/// non-zero return with lastError set.
template <typename Body> int guarded(Body &&body) {
  try {
    Status status = body();
    if (!status)
      return fail(status.error().message());
    return 0;
  } catch (const std::exception &error) {
    return fail(std::string("internal error: ") + error.what());
  } catch (...) {
    return fail("internal error: unknown exception");
  }
}

/// Converts C tensors to TensorRefs after checking the count and each
/// tensor's fields.
Status convert(const Bundle &bundle, const attn_tensor *args, int32_t numArgs,
               std::vector<TensorRef> &out) {
  if (numArgs < 0)
    return Error("num_args is negative (" + std::to_string(numArgs) + ")");
  if (numArgs > 0 && !args)
    return Error("args is NULL but num_args is " + std::to_string(numArgs));
  if (Status count = checkArgumentCount(bundle, numArgs); !count)
    return count;
  out.resize(numArgs);
  for (int32_t i = 0; i < numArgs; ++i) {
    const attn_tensor &tensor = args[i];
    const std::string quoted = "argument '" + bundle.arguments()[i].name + "'";
    // A C caller may store any int in the enum; read it as the raw integer,
    // since loading an out-of-range enumerator in C++ is undefined.
    int32_t code;
    std::memcpy(&code, &tensor.dtype, sizeof(code));
    std::optional<DType> dtype = dtypeFromCode(code);
    if (!dtype)
      return Error(quoted + ": invalid attn_dtype " + std::to_string(code));
    if (tensor.rank < 0)
      return Error(quoted + ": rank is negative (" +
                   std::to_string(tensor.rank) + ")");
    if (tensor.rank > 0 && !tensor.shape)
      return Error(quoted + ": shape is NULL for rank " +
                   std::to_string(tensor.rank));
    TensorRef &ref = out[i];
    ref.data = tensor.data;
    ref.dtype = *dtype;
    if (tensor.rank > 0) {
      ref.shape.assign(tensor.shape, tensor.shape + tensor.rank);
      if (tensor.strides)
        ref.strides.assign(tensor.strides, tensor.strides + tensor.rank);
    }
  }
  return Status::success();
}

} // namespace

extern "C" {

int attn_bundle_load(const char *directory, attn_bundle **bundle) {
  if (bundle)
    *bundle = nullptr;
  return guarded([&]() -> Status {
    if (!bundle)
      return Error("attn_bundle_load: bundle is NULL");
    if (!directory)
      return Error("attn_bundle_load: directory is NULL");
    Result<std::unique_ptr<Bundle>> loaded = Bundle::load(directory);
    if (!loaded)
      return loaded.error();
    *bundle = new attn_bundle{std::move(*loaded)};
    return Status::success();
  });
}

int attn_bundle_validate(const attn_bundle *bundle, const attn_tensor *args,
                         int32_t num_args) {
  return guarded([&]() -> Status {
    if (!bundle)
      return Error("attn_bundle_validate: bundle is NULL");
    std::vector<TensorRef> refs;
    if (Status converted = convert(*bundle->bundle, args, num_args, refs);
        !converted)
      return converted;
    Result<LaunchPlan> plan = bundle->bundle->validate(refs);
    if (!plan)
      return plan.error();
    return Status::success();
  });
}

int attn_bundle_launch(attn_bundle *bundle, const attn_tensor *args,
                       int32_t num_args, void *stream) {
  return guarded([&]() -> Status {
    if (!bundle)
      return Error("attn_bundle_launch: bundle is NULL");
    std::vector<TensorRef> refs;
    if (Status converted = convert(*bundle->bundle, args, num_args, refs);
        !converted)
      return converted;
    return bundle->bundle->launch(refs, static_cast<CUstream>(stream));
  });
}

int attn_bundle_workspace_bytes(const attn_bundle *bundle,
                                const attn_tensor *args, int32_t num_args,
                                uint64_t *bytes) {
  return guarded([&]() -> Status {
    if (!bundle)
      return Error("attn_bundle_workspace_bytes: bundle is NULL");
    if (!bytes)
      return Error("attn_bundle_workspace_bytes: bytes is NULL");
    std::vector<TensorRef> refs;
    if (Status converted = convert(*bundle->bundle, args, num_args, refs);
        !converted)
      return converted;
    Result<LaunchPlan> plan = bundle->bundle->validate(refs);
    if (!plan)
      return plan.error();
    *bytes = plan->workspaceBytes;
    return Status::success();
  });
}

int attn_bundle_launch_with_workspace(attn_bundle *bundle,
                                      const attn_tensor *args, int32_t num_args,
                                      void *stream, void *workspace,
                                      uint64_t workspace_bytes) {
  return guarded([&]() -> Status {
    if (!bundle)
      return Error("attn_bundle_launch_with_workspace: bundle is NULL");
    std::vector<TensorRef> refs;
    if (Status converted = convert(*bundle->bundle, args, num_args, refs);
        !converted)
      return converted;
    return bundle->bundle->launch(refs, static_cast<CUstream>(stream),
                                  workspace, workspace_bytes);
  });
}

int attn_bundle_set_read_input_checks(attn_bundle *bundle, int read) {
  if (!bundle)
    return fail("attn_bundle_set_read_input_checks: bundle is NULL");
  bundle->bundle->setReadInputChecks(read != 0);
  return 0;
}

int32_t attn_bundle_num_arguments(const attn_bundle *bundle) {
  if (!bundle)
    return -1;
  return static_cast<int32_t>(bundle->bundle->arguments().size());
}

const char *attn_bundle_argument_name(const attn_bundle *bundle,
                                      int32_t index) {
  if (!bundle || index < 0 ||
      static_cast<size_t>(index) >= bundle->bundle->arguments().size())
    return nullptr;
  return bundle->bundle->arguments()[index].name.c_str();
}

void attn_bundle_free(attn_bundle *bundle) { delete bundle; }

const char *attn_last_error(void) { return lastError.c_str(); }

} // extern "C"
