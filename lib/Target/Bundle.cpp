//===- Bundle.cpp - write a kernel bundle from lowered IR -------*- C++ -*-===//
//
// Manifest: the `attn.bundle` facts of the function, with each launch's
// `args` recovered from its gpu.launch_func: the kernel operands are the
// function's (LLVM) arguments (its own, then one per scratch buffer), a memref
// argument of rank r expanded into 3 + 2r of them (the memref descriptor ABI),
// so each operand maps back to the argument it came from; consecutive operands
// of one argument name it once.
//
//===----------------------------------------------------------------------===//

#include "attn/Target/Bundle.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace attn;

namespace {
/// One argument of the manifest.
struct ManifestArgument {
  std::string name, dtype;
  ArrayAttr shape;
  /// The kernels write it (attn-to-gpu's `writes`).
  bool writes = false;
};
} // namespace

FailureOr<BundleFiles> attn::buildBundle(ModuleOp module, StringRef name) {
  Operation *func = SymbolTable::lookupSymbolIn(module, name);
  DictionaryAttr facts =
      func ? func->getAttrOfType<DictionaryAttr>("attn.bundle") : nullptr;
  if (!facts)
    return module.emitError()
           << "attn bundle: function '" << name
           << "' has no lowered attention (no attn.bundle attribute)";
  auto target = facts.getAs<StringAttr>("target");
  auto moduleName = facts.getAs<StringAttr>("module");
  auto arguments = facts.getAs<ArrayAttr>("arguments");
  auto constraints = facts.getAs<ArrayAttr>("constraints");
  auto launches = facts.getAs<ArrayAttr>("launches");
  // Optional: the function's scratch buffers and input checks.
  auto scratch = facts.getAs<ArrayAttr>("scratch");
  if (!scratch)
    scratch = ArrayAttr::get(module.getContext(), {});
  auto inputChecks = facts.getAs<ArrayAttr>("input_checks");
  if (!inputChecks)
    inputChecks = ArrayAttr::get(module.getContext(), {});
  if (!target || !moduleName || !arguments || !constraints || !launches)
    return func->emitError() << "attn bundle: malformed attn.bundle attribute";

  // The PTX: the one gpu.binary of the function's kernels.
  BundleFiles files;
  auto binary = module.lookupSymbol<gpu::BinaryOp>(moduleName);
  if (!binary)
    return func->emitError() << "attn bundle: no compiled kernels ('"
                             << moduleName.getValue() << "')";
  for (Attribute object : binary.getObjects())
    files.ptx += cast<gpu::ObjectAttr>(object).getObject().getValue().str();

  // The function's arguments, then its scratch buffers (attn-to-gpu
  // appends one argument per scratch buffer).
  SmallVector<ManifestArgument> described;
  SmallVector<unsigned> owners; // LLVM argument -> original argument
  for (Attribute entry : llvm::concat<const Attribute>(arguments, scratch)) {
    auto dict = cast<DictionaryAttr>(entry);
    ManifestArgument argument{dict.getAs<StringAttr>("name").str(),
                              dict.getAs<StringAttr>("dtype").str(),
                              dict.getAs<ArrayAttr>("shape"),
                              dict.contains("writes")};
    owners.append(3 + 2 * argument.shape.size(), described.size());
    described.push_back(std::move(argument));
  }
  auto writeTensors = [&](llvm::json::OStream &json, StringRef key,
                          ArrayRef<ManifestArgument> tensors) {
    json.attributeArray(key, [&] {
      for (const ManifestArgument &argument : tensors)
        json.object([&] {
          json.attribute("name", argument.name);
          json.attribute("dtype", argument.dtype);
          json.attributeArray("shape", [&] {
            for (Attribute extent : argument.shape) {
              if (auto symbol = dyn_cast<StringAttr>(extent))
                json.value(symbol.getValue());
              else
                json.value(cast<IntegerAttr>(extent).getInt());
            }
          });
          if (argument.writes)
            json.attribute("writes", true);
        });
    });
  };

  std::string manifest;
  llvm::raw_string_ostream os(manifest);
  llvm::json::OStream json(os, /*IndentSize=*/2);
  LogicalResult result = success();
  json.object([&] {
    json.attribute("format", "attn-bundle");
    json.attribute("version", 1);
    json.attribute("name", name);
    json.attribute("target", target.getValue());
    json.attribute("ptx", "kernels.ptx");
    writeTensors(json, "arguments",
                 ArrayRef(described).take_front(arguments.size()));
    json.attributeArray("constraints", [&] {
      for (Attribute constraint : constraints)
        json.value(cast<StringAttr>(constraint).getValue());
    });
    if (!scratch.empty())
      writeTensors(json, "scratch",
                   ArrayRef(described).drop_front(arguments.size()));
    if (!inputChecks.empty())
      json.attributeArray("input_checks", [&] {
        for (Attribute entry : inputChecks) {
          auto check = cast<DictionaryAttr>(entry);
          json.object([&] {
            for (StringRef key : {"scratch", "argument", "message"})
              json.attribute(key, check.getAs<StringAttr>(key).getValue());
          });
        }
      });
    json.attributeArray("launches", [&] {
      for (Attribute entry : launches) {
        auto launch = cast<DictionaryAttr>(entry);
        StringRef kernel = launch.getAs<StringAttr>("kernel").getValue();
        // The kernel parameters, from the launch of this kernel.
        gpu::LaunchFuncOp launchOp;
        func->walk([&](gpu::LaunchFuncOp op) {
          if (op.getKernelName().getValue() == kernel)
            launchOp = op;
        });
        SmallVector<std::string> args;
        if (!launchOp) {
          result = func->emitError()
                   << "attn bundle: no launch of kernel '" << kernel << "'";
        } else {
          for (Value operand : launchOp.getKernelOperands()) {
            auto argument = dyn_cast<BlockArgument>(operand);
            if (!argument || argument.getOwner()->getParentOp() != func ||
                argument.getArgNumber() >= owners.size()) {
              result = launchOp.emitError()
                       << "attn bundle: kernel '" << kernel
                       << "' takes a value that is not a function argument";
              break;
            }
            const std::string &owner =
                described[owners[argument.getArgNumber()]].name;
            if (args.empty() || args.back() != owner)
              args.push_back(owner);
          }
        }
        json.object([&] {
          json.attribute("kernel", kernel);
          json.attributeArray("grid", [&] {
            for (Attribute extent : launch.getAs<ArrayAttr>("grid"))
              json.value(cast<StringAttr>(extent).getValue());
          });
          json.attributeArray("block", [&] {
            for (Attribute extent : launch.getAs<ArrayAttr>("block"))
              json.value(cast<IntegerAttr>(extent).getInt());
          });
          json.attribute("shared_bytes",
                         launch.getAs<IntegerAttr>("shared_bytes").getInt());
          json.attributeArray("args", [&] {
            for (const std::string &arg : args)
              json.value(arg);
          });
          json.attribute("abi", "memref");
        });
      }
    });
  });
  os << "\n";
  if (failed(result))
    return failure();
  files.manifest = std::move(manifest);
  return files;
}

/// Whether `directory` holds a previous bundle: a manifest.json whose
/// format is "attn-bundle".
static bool holdsBundle(StringRef directory) {
  SmallString<256> path(directory);
  llvm::sys::path::append(path, "manifest.json");
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return false;
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return false;
  }
  const llvm::json::Object *object = parsed->getAsObject();
  return object && object->getString("format") == "attn-bundle";
}

/// Whether `directory` has no entries.
static bool isEmptyDirectory(StringRef directory) {
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(directory, ec);
  return !ec && it == llvm::sys::fs::directory_iterator();
}

/// Writes `contents` to `path`.
static LogicalResult writeFile(StringRef path, StringRef contents,
                               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec) {
    os << contents;
    os.close();
    ec = os.error();
  }
  if (ec)
    error = ("cannot write " + path + ": " + ec.message()).str();
  return failure(bool(ec));
}

LogicalResult attn::writeBundleDirectory(
    const BundleFiles &files, StringRef directory, bool force,
    std::string &error,
    function_ref<LogicalResult(StringRef, std::string &)> check) {
  SmallString<256> target(directory);
  llvm::sys::path::remove_dots(target, /*remove_dot_dot=*/true);
  while (target.size() > 1 && llvm::sys::path::is_separator(target.back()))
    target.pop_back();
  SmallString<256> workingDirectory;
  if (target.empty() || target == "." || target == "/" ||
      (!llvm::sys::fs::current_path(workingDirectory) &&
       llvm::sys::fs::equivalent(target, workingDirectory))) {
    error = ("refusing to write a bundle to '" + directory +
             "': name a new or bundle directory")
                .str();
    return failure();
  }
  // Absolute from here: the staging directory below is created next to the
  // target, and createUniqueDirectory would put a relative name under the
  // system's temporary directory instead.
  if (std::error_code ec = llvm::sys::fs::make_absolute(target)) {
    error = ("cannot resolve '" + directory + "': " + ec.message()).str();
    return failure();
  }
  bool exists = llvm::sys::fs::exists(target);
  if (exists && !llvm::sys::fs::is_directory(target)) {
    error = ("'" + target + "' exists and is not a directory").str();
    return failure();
  }
  if (exists && !force && !isEmptyDirectory(target) && !holdsBundle(target)) {
    error = ("refusing to replace '" + target +
             "': it is not empty and holds no attn bundle (use --force)")
                .str();
    return failure();
  }
  // A fresh sibling directory, renamed into place once complete.
  StringRef parent = llvm::sys::path::parent_path(target);
  if (!parent.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(parent)) {
      error = ("cannot create '" + parent + "': " + ec.message()).str();
      return failure();
    }
  SmallString<256> staging;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
          target + ".partial", staging)) {
    error = ("cannot create a directory next to '" + target +
             "': " + ec.message())
                .str();
    return failure();
  }
  SmallString<256> ptxPath(staging), manifestPath(staging);
  llvm::sys::path::append(ptxPath, "kernels.ptx");
  llvm::sys::path::append(manifestPath, "manifest.json");
  if (failed(writeFile(ptxPath, files.ptx, error)) ||
      failed(writeFile(manifestPath, files.manifest, error)) ||
      (check && failed(check(staging, error)))) {
    llvm::sys::fs::remove_directories(staging);
    return failure();
  }
  SmallString<256> previous;
  if (exists) {
    // Move the old directory aside first, so that a failed rename keeps it.
    (void)llvm::sys::fs::createUniqueDirectory(target + ".old", previous);
    llvm::sys::fs::remove(previous);
    if (std::error_code ec = llvm::sys::fs::rename(target, previous)) {
      error = ("cannot replace '" + target + "': " + ec.message()).str();
      llvm::sys::fs::remove_directories(staging);
      return failure();
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(staging, target)) {
    error = ("cannot move the bundle to '" + target + "': " + ec.message())
                .str();
    if (exists)
      (void)llvm::sys::fs::rename(previous, target);
    llvm::sys::fs::remove_directories(staging);
    return failure();
  }
  if (exists)
    llvm::sys::fs::remove_directories(previous);
  return success();
}
