//===- Manifest.cpp - Read and check a bundle's manifest.json ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Turns manifest.json (format "attn-bundle", version 1) into a Manifest:
// every field is checked for presence and type, every name resolved (launch
// arguments to argument indices, grid and constraint symbols to shape
// symbols), and the PTX file is read and checked to define every kernel with
// the parameter count its ABI implies. Errors read
//   <dir>/manifest.json:<line>:<column>: field '<path>': <what>
// where <path> is e.g. "launches[0].grid[1]".
//
//===----------------------------------------------------------------------===//

#include "Manifest.h"

#include "Json.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attn {
namespace runtime {

Result<std::string> readFile(const std::string &path, int64_t maxBytes) {
  // Not through a symlink (it could name a FIFO, a device or a file outside
  // the bundle), opened without blocking (a FIFO would wait for a writer),
  // and only a regular file of bounded size.
  struct stat linkInfo;
  if (::lstat(path.c_str(), &linkInfo) != 0)
    return Error(std::strerror(errno));
  if (S_ISLNK(linkInfo.st_mode))
    return Error("is a symbolic link (a bundle's files must be regular "
                 "files inside it)");
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return Error(std::strerror(errno));
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Error("is not a regular file");
  }
  auto tooLarge = [&] {
    return Error("is larger than " + std::to_string(maxBytes >> 20) +
                 " MiB, the most it may have");
  };
  if (info.st_size > maxBytes) {
    ::close(fd);
    return tooLarge();
  }
  std::string contents;
  contents.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  while (true) {
    ssize_t count = ::read(fd, buffer, sizeof(buffer));
    if (count < 0 && errno == EINTR)
      continue;
    if (count < 0) {
      int error = errno;
      ::close(fd);
      return Error(std::strerror(error));
    }
    if (count == 0)
      break;
    contents.append(buffer, static_cast<size_t>(count));
    if (contents.size() > static_cast<size_t>(maxBytes)) {
      ::close(fd);
      return tooLarge();
    }
  }
  ::close(fd);
  return contents;
}

namespace {

using json::Value;
using Kind = json::Value::Kind;

/// Strips // and /* */ comments from PTX, keeping newlines, and empties
/// string literals (e.g. of .file directives): neither can declare an
/// entry, whatever text they hold.
std::string stripPtxCommentsAndStrings(const std::string &ptx) {
  std::string out;
  out.reserve(ptx.size());
  for (size_t i = 0; i < ptx.size();) {
    if (ptx.compare(i, 2, "//") == 0) {
      while (i < ptx.size() && ptx[i] != '\n')
        ++i;
    } else if (ptx.compare(i, 2, "/*") == 0) {
      size_t end = ptx.find("*/", i + 2);
      i = end == std::string::npos ? ptx.size() : end + 2;
      out += ' ';
    } else if (ptx[i] == '"') {
      // String literals may contain "//", "/*" or ".entry": kept as "".
      size_t end = ptx.find('"', i + 1);
      i = end == std::string::npos ? ptx.size() : end + 1;
      out += "\"\"";
    } else {
      out += ptx[i++];
    }
  }
  return out;
}

bool isPtxNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/// The number of parameters of `.entry name(...)` in comment-free PTX, or -1
/// if there is no such entry.
int64_t entryParameterCount(const std::string &ptx, const std::string &name) {
  const std::string directive = ".entry";
  for (size_t at = ptx.find(directive); at != std::string::npos;
       at = ptx.find(directive, at + 1)) {
    size_t pos = at + directive.size();
    if (pos >= ptx.size() ||
        !std::isspace(static_cast<unsigned char>(ptx[pos])))
      continue;
    while (pos < ptx.size() &&
           std::isspace(static_cast<unsigned char>(ptx[pos])))
      ++pos;
    size_t start = pos;
    while (pos < ptx.size() && isPtxNameChar(ptx[pos]))
      ++pos;
    if (ptx.compare(start, pos - start, name) != 0 ||
        pos - start != name.size())
      continue;
    while (pos < ptx.size() &&
           std::isspace(static_cast<unsigned char>(ptx[pos])))
      ++pos;
    if (pos >= ptx.size() || ptx[pos] != '(')
      return 0;
    size_t close = ptx.find(')', pos);
    if (close == std::string::npos)
      close = ptx.size();
    int64_t count = 0;
    for (size_t p = ptx.find(".param", pos); p < close;
         p = ptx.find(".param", p + 1))
      ++count;
    return count;
  }
  return -1;
}

/// Reads one manifest, accumulating nothing: the first problem is returned.
class ManifestReader {
public:
  ManifestReader(std::string path, std::string_view text)
      : path(std::move(path)), text(text) {}

  Error fail(const Value &at, const std::string &field,
             const std::string &what) const {
    return Error(location(at) + "field '" + field + "': " + what);
  }

  std::string location(const Value &at) const {
    auto [line, column] = json::lineColumn(text, at.offset);
    return path + ":" + std::to_string(line) + ":" + std::to_string(column) +
           ": ";
  }

  /// The member `key` of object `object` (whose path is `prefix`).
  Result<const Value *> member(const Value &object, const std::string &prefix,
                               const char *key, Kind kind) const {
    std::string field = join(prefix, key);
    const Value *value = object.find(key);
    if (!value)
      return Error(location(object) + "missing field '" + field + "'");
    if (value->kind != kind)
      return fail(*value, field,
                  std::string("expected ") + json::kindName(kind) + ", got " +
                      json::kindName(value->kind));
    return value;
  }

  /// Fails on a member of `object` not in `known`.
  Status onlyKnown(const Value &object, const std::string &prefix,
                   std::initializer_list<const char *> known) const {
    for (const auto &entry : object.members) {
      bool found = std::any_of(known.begin(), known.end(),
                               [&](const char *k) { return entry.first == k; });
      if (!found)
        return Error(location(entry.second) + "unknown field '" +
                     join(prefix, entry.first.c_str()) + "'");
    }
    return Status::success();
  }

  static std::string join(const std::string &prefix, const char *key) {
    return prefix.empty() ? std::string(key) : prefix + "." + key;
  }
  static std::string index(const std::string &prefix, size_t i) {
    return prefix + "[" + std::to_string(i) + "]";
  }

  std::string path;
  std::string_view text;
};

/// The index of the tensor named `name` in `tensors`, if any.
std::optional<size_t> indexOfName(const std::vector<ArgumentSpec> &tensors,
                                  const std::string &name) {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name)
      return i;
  return std::nullopt;
}

/// Matches sm_<digits> with an optional 'a' or 'f' suffix.
bool isTarget(const std::string &target) {
  if (target.size() < 4 || target.compare(0, 3, "sm_") != 0)
    return false;
  size_t end = target.size();
  if (target.back() == 'a' || target.back() == 'f')
    --end;
  if (end == 3)
    return false;
  for (size_t i = 3; i < end; ++i)
    if (target[i] < '0' || target[i] > '9')
      return false;
  return end - 3 <= 4;
}

} // namespace

Result<Manifest> parseManifest(const std::string &directory) {
  std::string path = directory + "/manifest.json";
  Result<std::string> contents = readFile(path, kMaxManifestBytes);
  if (!contents)
    return Error("cannot read bundle manifest '" + path +
                 "': " + contents.error().message());
  return parseManifestText(*contents, directory);
}

Result<Manifest> parseManifestText(std::string_view text,
                                   const std::string &directory) {
  std::string path = directory + "/manifest.json";
  if (text.size() > static_cast<size_t>(kMaxManifestBytes))
    return Error(path + ": the manifest is larger than " +
                 std::to_string(kMaxManifestBytes >> 20) +
                 " MiB, the most it may have");
  Result<Value> parsed = json::parse(text);
  if (!parsed)
    return Error(path + ":" + parsed.error().message());
  const Value &root = *parsed;
  ManifestReader reader(path, text);
  if (root.kind != Kind::Object)
    return Error(reader.location(root) +
                 "the manifest must be a JSON object, got " +
                 json::kindName(root.kind));

  Manifest manifest;

  // Format and version come first: a newer manifest may add fields.
  auto format = reader.member(root, "", "format", Kind::String);
  if (!format)
    return format.error();
  if ((*format)->string != "attn-bundle")
    return reader.fail(**format, "format",
                       "unknown format \"" + (*format)->string +
                           "\" (expected \"attn-bundle\")");
  auto version = reader.member(root, "", "version", Kind::Integer);
  if (!version)
    return version.error();
  if ((*version)->integer != 1)
    return Error(reader.location(**version) + "bundle version " +
                 std::to_string((*version)->integer) +
                 " is not supported by this runtime (supports 1)");
  if (Status known = reader.onlyKnown(root, "",
                                      {"format", "version", "name", "target",
                                       "ptx", "arguments", "constraints",
                                       "scratch", "input_checks", "launches"});
      !known)
    return known.error();

  auto name = reader.member(root, "", "name", Kind::String);
  if (!name)
    return name.error();
  if ((*name)->string.empty())
    return reader.fail(**name, "name", "must not be empty");
  manifest.name = (*name)->string;

  auto target = reader.member(root, "", "target", Kind::String);
  if (!target)
    return target.error();
  if (!isTarget((*target)->string))
    return reader.fail(**target, "target",
                       "\"" + (*target)->string +
                           "\" is not a target of the form sm_<NN>[a|f]");
  manifest.target = (*target)->string;

  auto ptx = reader.member(root, "", "ptx", Kind::String);
  if (!ptx)
    return ptx.error();
  const std::string &ptxName = (*ptx)->string;
  if (ptxName.empty() || ptxName.front() == '/' || ptxName == ".." ||
      ptxName.rfind("../", 0) == 0 ||
      ptxName.find("/../") != std::string::npos ||
      (ptxName.size() >= 3 &&
       ptxName.compare(ptxName.size() - 3, 3, "/..") == 0))
    return reader.fail(**ptx, "ptx",
                       "\"" + ptxName +
                           "\" must be a relative path inside the bundle");
  manifest.ptxFile = ptxName;

  // Arguments, collecting shape symbols in order of first appearance.
  auto arguments = reader.member(root, "", "arguments", Kind::Array);
  if (!arguments)
    return arguments.error();
  std::set<std::string> argumentNames;
  struct PendingExpression {
    size_t argument, dim;
    const Value *at;
    std::string field;
  };
  std::vector<PendingExpression> pendingExpressions;
  // The name, dtype and shape array of an argument or scratch buffer
  // (`what` names the kind in the duplicate-name message).
  struct TensorHeader {
    ArgumentSpec spec;
    const Value *shape;
  };
  auto readTensorHeader = [&](const Value &entry, const std::string &prefix,
                              const std::string &what) -> Result<TensorHeader> {
    if (entry.kind != Kind::Object)
      return reader.fail(entry, prefix,
                         std::string("expected an object, got ") +
                             json::kindName(entry.kind));
    bool isArgument = what == "argument";
    Status known =
        isArgument
            ? reader.onlyKnown(entry, prefix,
                               {"name", "dtype", "shape", "writes"})
            : reader.onlyKnown(entry, prefix, {"name", "dtype", "shape"});
    if (!known)
      return known.error();
    TensorHeader header;
    if (isArgument && entry.find("writes")) {
      auto writes = reader.member(entry, prefix, "writes", Kind::Bool);
      if (!writes)
        return writes.error();
      header.spec.writes = (*writes)->boolean;
    }
    auto name = reader.member(entry, prefix, "name", Kind::String);
    if (!name)
      return name.error();
    header.spec.name = (*name)->string;
    if (header.spec.name.empty())
      return reader.fail(**name, prefix + ".name", "must not be empty");
    if (!argumentNames.insert(header.spec.name).second)
      return reader.fail(**name, prefix + ".name",
                         "duplicate " + what + " name '" + header.spec.name +
                             "'");
    auto dtype = reader.member(entry, prefix, "dtype", Kind::String);
    if (!dtype)
      return dtype.error();
    std::optional<DType> type = parseDType((*dtype)->string);
    if (!type)
      return reader.fail(**dtype, prefix + ".dtype",
                         "unknown dtype \"" + (*dtype)->string +
                             "\" (expected f16, bf16, f32, i32, i8 or i1)");
    header.spec.dtype = *type;
    auto shape = reader.member(entry, prefix, "shape", Kind::Array);
    if (!shape)
      return shape.error();
    header.shape = *shape;
    return header;
  };
  for (size_t i = 0; i < (*arguments)->elements.size(); ++i) {
    const Value &entry = (*arguments)->elements[i];
    std::string prefix = ManifestReader::index("arguments", i);
    Result<TensorHeader> header = readTensorHeader(entry, prefix, "argument");
    if (!header)
      return header.error();
    ArgumentSpec argument = std::move(header->spec);
    const Value *shape = header->shape;
    for (size_t d = 0; d < shape->elements.size(); ++d) {
      const Value &extent = shape->elements[d];
      std::string field = ManifestReader::index(prefix + ".shape", d);
      Dim dim;
      if (extent.kind == Kind::Integer) {
        if (extent.integer < 0)
          return reader.fail(extent, field,
                             "extent " + std::to_string(extent.integer) +
                                 " is negative");
        dim.value = extent.integer;
      } else if (extent.kind == Kind::String) {
        if (isIdentifier(extent.string) && extent.string != "ceildiv") {
          dim.symbol = extent.string;
          if (std::find(manifest.symbols.begin(), manifest.symbols.end(),
                        dim.symbol) == manifest.symbols.end())
            manifest.symbols.push_back(dim.symbol);
        } else {
          // An expression of symbols, parsed once every symbol is known.
          dim.expression = extent.string;
          pendingExpressions.push_back({i, d, &extent, field});
        }
      } else {
        return reader.fail(extent, field,
                           std::string("expected an integer, a symbol or an "
                                       "expression string, got ") +
                               json::kindName(extent.kind));
      }
      argument.shape.push_back(std::move(dim));
    }
    manifest.arguments.push_back(std::move(argument));
    manifest.argumentExprs.emplace_back(shape->elements.size());
  }
  for (const PendingExpression &pending : pendingExpressions) {
    const Dim &dim = manifest.arguments[pending.argument].shape[pending.dim];
    Result<Expr> expr = parseExpr(dim.expression, manifest.symbols);
    if (!expr)
      return reader.fail(*pending.at, pending.field, expr.error().message());
    manifest.argumentExprs[pending.argument][pending.dim] = std::move(*expr);
  }

  // Constraints (optional).
  if (const Value *constraints = root.find("constraints")) {
    if (constraints->kind != Kind::Array)
      return reader.fail(*constraints, "constraints",
                         std::string("expected an array, got ") +
                             json::kindName(constraints->kind));
    for (size_t i = 0; i < constraints->elements.size(); ++i) {
      const Value &entry = constraints->elements[i];
      std::string field = ManifestReader::index("constraints", i);
      if (entry.kind != Kind::String)
        return reader.fail(entry, field,
                           std::string("expected a string, got ") +
                               json::kindName(entry.kind));
      Result<Constraint> constraint =
          parseConstraint(entry.string, manifest.symbols);
      if (!constraint)
        return reader.fail(entry, field, constraint.error().message());
      manifest.constraintTexts.push_back(entry.string);
      manifest.constraints.push_back(std::move(*constraint));
    }
  }

  // Scratch buffers (optional): extents are integers or expressions.
  if (const Value *scratch = root.find("scratch")) {
    if (scratch->kind != Kind::Array)
      return reader.fail(*scratch, "scratch",
                         std::string("expected an array, got ") +
                             json::kindName(scratch->kind));
    for (size_t i = 0; i < scratch->elements.size(); ++i) {
      const Value &entry = scratch->elements[i];
      std::string prefix = ManifestReader::index("scratch", i);
      Result<TensorHeader> header =
          readTensorHeader(entry, prefix, "argument or scratch");
      if (!header)
        return header.error();
      ArgumentSpec buffer = std::move(header->spec);
      const Value *shape = header->shape;
      std::vector<Expr> extents;
      for (size_t d = 0; d < shape->elements.size(); ++d) {
        const Value &extent = shape->elements[d];
        std::string field = ManifestReader::index(prefix + ".shape", d);
        Dim dim;
        std::string text;
        if (extent.kind == Kind::Integer) {
          if (extent.integer < 0)
            return reader.fail(extent, field,
                               "extent " + std::to_string(extent.integer) +
                                   " is negative");
          dim.value = extent.integer;
          text = std::to_string(extent.integer);
        } else if (extent.kind == Kind::String) {
          dim.expression = text = extent.string;
        } else {
          return reader.fail(extent, field,
                             std::string("expected an integer or an "
                                         "expression string, got ") +
                                 json::kindName(extent.kind));
        }
        Result<Expr> expr = parseExpr(text, manifest.symbols);
        if (!expr)
          return reader.fail(extent, field, expr.error().message());
        extents.push_back(std::move(*expr));
        buffer.shape.push_back(std::move(dim));
      }
      manifest.scratch.push_back(std::move(buffer));
      manifest.scratchExprs.push_back(std::move(extents));
    }
  }

  // Input checks (optional): a one-element i32 scratch buffer in which the
  // kernels count the invalid values of an argument.
  if (const Value *checks = root.find("input_checks")) {
    if (checks->kind != Kind::Array)
      return reader.fail(*checks, "input_checks",
                         std::string("expected an array, got ") +
                             json::kindName(checks->kind));
    for (size_t i = 0; i < checks->elements.size(); ++i) {
      const Value &entry = checks->elements[i];
      std::string prefix = ManifestReader::index("input_checks", i);
      if (entry.kind != Kind::Object)
        return reader.fail(entry, prefix,
                           std::string("expected an object, got ") +
                               json::kindName(entry.kind));
      if (Status known = reader.onlyKnown(entry, prefix,
                                          {"scratch", "argument", "message"});
          !known)
        return known.error();
      InputCheckSpec check;
      auto scratchName = reader.member(entry, prefix, "scratch", Kind::String);
      if (!scratchName)
        return scratchName.error();
      std::optional<size_t> scratchIndex =
          indexOfName(manifest.scratch, (*scratchName)->string);
      if (!scratchIndex)
        return reader.fail(**scratchName, prefix + ".scratch",
                           "'" + (*scratchName)->string +
                               "' is not a scratch buffer of the bundle");
      const ArgumentSpec *buffer = &manifest.scratch[*scratchIndex];
      if (buffer->dtype != DType::I32 || buffer->shape.size() != 1 ||
          buffer->shape[0].isSymbol() || buffer->shape[0].isExpression() ||
          buffer->shape[0].value != 1)
        return reader.fail(**scratchName, prefix + ".scratch",
                           "scratch buffer '" + buffer->name +
                               "' must be i32 of shape [1] (one count)");
      check.scratch = *scratchIndex;
      auto argumentName =
          reader.member(entry, prefix, "argument", Kind::String);
      if (!argumentName)
        return argumentName.error();
      std::optional<size_t> argument =
          indexOfName(manifest.arguments, (*argumentName)->string);
      if (!argument)
        return reader.fail(**argumentName, prefix + ".argument",
                           "'" + (*argumentName)->string +
                               "' is not an argument of the bundle");
      check.argument = *argument;
      auto message = reader.member(entry, prefix, "message", Kind::String);
      if (!message)
        return message.error();
      if ((*message)->string.empty() || (*message)->string.size() > 256)
        return reader.fail(**message, prefix + ".message",
                           "must be a text of 1 to 256 characters");
      check.message = (*message)->string;
      manifest.inputChecks.push_back(std::move(check));
    }
  }

  // Launches.
  auto launches = reader.member(root, "", "launches", Kind::Array);
  if (!launches)
    return launches.error();
  if ((*launches)->elements.empty())
    return reader.fail(**launches, "launches", "must not be empty");
  for (size_t i = 0; i < (*launches)->elements.size(); ++i) {
    const Value &entry = (*launches)->elements[i];
    std::string prefix = ManifestReader::index("launches", i);
    if (entry.kind != Kind::Object)
      return reader.fail(entry, prefix,
                         std::string("expected an object, got ") +
                             json::kindName(entry.kind));
    if (Status known = reader.onlyKnown(
            entry, prefix,
            {"kernel", "grid", "block", "shared_bytes", "args", "abi"});
        !known)
      return known.error();
    LaunchSpec launch;
    std::array<Expr, 3> gridExprs;

    auto kernel = reader.member(entry, prefix, "kernel", Kind::String);
    if (!kernel)
      return kernel.error();
    launch.kernel = (*kernel)->string;
    if (launch.kernel.empty() ||
        !std::all_of(launch.kernel.begin(), launch.kernel.end(),
                     isPtxNameChar) ||
        (launch.kernel[0] >= '0' && launch.kernel[0] <= '9'))
      return reader.fail(**kernel, prefix + ".kernel",
                         "\"" + launch.kernel + "\" is not a PTX entry name");

    auto grid = reader.member(entry, prefix, "grid", Kind::Array);
    if (!grid)
      return grid.error();
    if ((*grid)->elements.size() != 3)
      return reader.fail(**grid, prefix + ".grid",
                         "expected 3 entries (x, y, z), got " +
                             std::to_string((*grid)->elements.size()));
    for (size_t d = 0; d < 3; ++d) {
      const Value &extent = (*grid)->elements[d];
      std::string field = ManifestReader::index(prefix + ".grid", d);
      if (extent.kind == Kind::Integer) {
        if (extent.integer < 0)
          return reader.fail(extent, field,
                             "extent " + std::to_string(extent.integer) +
                                 " is negative");
        launch.grid[d] = std::to_string(extent.integer);
      } else if (extent.kind == Kind::String) {
        launch.grid[d] = extent.string;
      } else {
        return reader.fail(extent, field,
                           std::string("expected an integer or an expression "
                                       "string, got ") +
                               json::kindName(extent.kind));
      }
      Result<Expr> expr = parseExpr(launch.grid[d], manifest.symbols);
      if (!expr)
        return reader.fail(extent, field, expr.error().message());
      gridExprs[d] = std::move(*expr);
    }

    auto block = reader.member(entry, prefix, "block", Kind::Array);
    if (!block)
      return block.error();
    if ((*block)->elements.size() != 3)
      return reader.fail(**block, prefix + ".block",
                         "expected 3 entries (x, y, z), got " +
                             std::to_string((*block)->elements.size()));
    int64_t threads = 1;
    for (size_t d = 0; d < 3; ++d) {
      const Value &extent = (*block)->elements[d];
      std::string field = ManifestReader::index(prefix + ".block", d);
      if (extent.kind != Kind::Integer)
        return reader.fail(extent, field,
                           std::string("expected an integer, got ") +
                               json::kindName(extent.kind));
      if (extent.integer < 1 || extent.integer > 1024)
        return reader.fail(extent, field,
                           "extent " + std::to_string(extent.integer) +
                               " is outside [1, 1024]");
      launch.block[d] = static_cast<uint32_t>(extent.integer);
      threads *= extent.integer;
    }
    if (threads > 1024)
      return reader.fail(**block, prefix + ".block",
                         std::to_string(threads) +
                             " threads per block exceed the CUDA limit 1024");

    auto shared = reader.member(entry, prefix, "shared_bytes", Kind::Integer);
    if (!shared)
      return shared.error();
    if ((*shared)->integer < 0 || (*shared)->integer > UINT32_MAX)
      return reader.fail(**shared, prefix + ".shared_bytes",
                         std::to_string((*shared)->integer) +
                             " is outside [0, 4294967295]");
    launch.sharedBytes = static_cast<uint32_t>((*shared)->integer);

    auto args = reader.member(entry, prefix, "args", Kind::Array);
    if (!args)
      return args.error();
    for (size_t a = 0; a < (*args)->elements.size(); ++a) {
      const Value &arg = (*args)->elements[a];
      std::string field = ManifestReader::index(prefix + ".args", a);
      if (arg.kind != Kind::String)
        return reader.fail(arg, field,
                           std::string("expected an argument name string, "
                                       "got ") +
                               json::kindName(arg.kind));
      if (std::optional<size_t> argument =
              indexOfName(manifest.arguments, arg.string))
        launch.args.push_back(*argument);
      else if (std::optional<size_t> buffer =
                   indexOfName(manifest.scratch, arg.string))
        launch.args.push_back(manifest.arguments.size() + *buffer);
      else
        return reader.fail(arg, field,
                           "'" + arg.string +
                               "' is not an argument or scratch buffer of "
                               "the bundle");
    }

    auto abi = reader.member(entry, prefix, "abi", Kind::String);
    if (!abi)
      return abi.error();
    if ((*abi)->string == "memref")
      launch.abi = KernelAbi::MemRef;
    else if ((*abi)->string == "bare")
      launch.abi = KernelAbi::Bare;
    else
      return reader.fail(**abi, prefix + ".abi",
                         "unknown abi \"" + (*abi)->string +
                             "\" (expected \"memref\" or \"bare\")");

    manifest.launches.push_back(std::move(launch));
    manifest.grids.push_back(std::move(gridExprs));
  }

  // The PTX file must exist and define every kernel with the right number of
  // parameters.
  std::string ptxPath = directory + "/" + manifest.ptxFile;
  // Inside the bundle after resolving every directory on the way (a
  // symlinked subdirectory could lead anywhere).
  if (char *resolvedDir = ::realpath(directory.c_str(), nullptr)) {
    std::string root = resolvedDir;
    std::free(resolvedDir);
    if (char *resolved = ::realpath(ptxPath.c_str(), nullptr)) {
      std::string file = resolved;
      std::free(resolved);
      if (file.compare(0, root.size() + 1, root + "/") != 0)
        return reader.fail(**ptx, "ptx",
                           "PTX file '" + ptxPath + "' resolves to '" + file +
                               "', outside the bundle");
    }
  }
  Result<std::string> ptxText = readFile(ptxPath, kMaxPtxBytes);
  if (!ptxText)
    return reader.fail(**ptx, "ptx",
                       "cannot read PTX file '" + ptxPath +
                           "': " + ptxText.error().message());
  manifest.ptx = std::move(*ptxText);
  std::string code = stripPtxCommentsAndStrings(manifest.ptx);
  const Value &launchArray = **launches;
  for (size_t i = 0; i < manifest.launches.size(); ++i) {
    const LaunchSpec &launch = manifest.launches[i];
    int64_t expected = 0;
    for (size_t arg : launch.args) {
      const ArgumentSpec &spec =
          arg < manifest.arguments.size()
              ? manifest.arguments[arg]
              : manifest.scratch[arg - manifest.arguments.size()];
      expected += launch.abi == KernelAbi::Bare
                      ? 1
                      : 3 + 2 * static_cast<int64_t>(spec.shape.size());
    }
    int64_t actual = entryParameterCount(code, launch.kernel);
    std::string field = ManifestReader::index("launches", i) + ".kernel";
    const Value &at = *launchArray.elements[i].find("kernel");
    if (actual < 0)
      return reader.fail(at, field,
                         "kernel '" + launch.kernel + "' is not an .entry of " +
                             manifest.ptxFile);
    if (actual != expected)
      return reader.fail(
          at, field,
          "kernel '" + launch.kernel + "' in " + manifest.ptxFile + " takes " +
              std::to_string(actual) + " parameters, but its " +
              std::to_string(launch.args.size()) + " arguments under abi \"" +
              (launch.abi == KernelAbi::Bare ? "bare" : "memref") + "\" make " +
              std::to_string(expected));
  }
  return manifest;
}

} // namespace runtime
} // namespace attn
