//===- LaunchFacts.cpp - what a bundle needs to know of each launch -*- C++ -*-//

#include "LaunchFacts.h"

#include "attn/Target/TargetInfo.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;
using namespace attn;

/// `name` with every character outside [A-Za-z0-9_] replaced by '_' and a
/// leading digit prefixed by '_': a PTX identifier.
static std::string identifier(StringRef name) {
  std::string result;
  for (char c : name)
    result += llvm::isAlnum(c) || c == '_' ? c : '_';
  if (result.empty() || llvm::isDigit(result.front()))
    result.insert(result.begin(), '_');
  return result;
}

std::string LaunchFacts::moduleName() const {
  return identifier(func.getName()) + "_kernel";
}

std::string LaunchFacts::nextKernelName() const {
  std::string name = moduleName();
  if (!launches.empty())
    name += "_" + std::to_string(launches.size());
  return name;
}

LogicalResult LaunchFacts::describe(Location loc, Value operand,
                                    StringRef role, ArrayRef<StringRef> symbols,
                                    StringRef suffix) {
  auto argument = dyn_cast<BlockArgument>(operand);
  if (!argument || argument.getOwner() != &func.getBody().front())
    return emitError(loc)
           << "attn-to-gpu: operand '" << role
           << "' must be an argument of the function, so that a bundle can "
              "describe it";
  std::string name = (role + suffix).str();
  std::optional<Argument> &entry = arguments[argument.getArgNumber()];
  // One buffer may be read in several roles (self-attention: q = k = v),
  // or be the same role of several steps (two attentions writing one O);
  // it keeps its first description. An output that is also an input is an
  // error.
  // The role without the step suffix "_n" (roles may hold '_' too).
  auto baseRole = [](StringRef name) {
    auto [base, tail] = name.rsplit('_');
    unsigned stepNumber;
    return !tail.empty() && !tail.getAsInteger(10, stepNumber) ? base : name;
  };
  auto isInput = [](StringRef role) {
    return role == "q" || role == "k" || role == "v";
  };
  if (entry && (baseRole(entry->name) == role ||
                (isInput(baseRole(entry->name)) && isInput(role))))
    return success();
  if (entry && entry->name != name)
    return emitError(loc)
           << "attn-to-gpu: function argument #" << argument.getArgNumber()
           << " is used both as '" << entry->name << "' and as '" << name
           << "'; pass separate buffers";
  Builder b(func.getContext());
  Argument described;
  described.name = name;
  for (auto [extent, symbol] :
       llvm::zip(cast<MemRefType>(operand.getType()).getShape(), symbols))
    described.shape.push_back(
        ShapedType::isDynamic(extent)
            ? Attribute(b.getStringAttr((symbol + suffix).str()))
            : Attribute(b.getI64IntegerAttr(extent)));
  entry = described;
  return success();
}

LogicalResult LaunchFacts::addStep(const StepOperands &step) {
  std::string suffix = steps == 0 ? "" : "_" + std::to_string(steps);
  ++steps;
  Location loc = step.loc;
  if (failed(describe(loc, step.query, "q", {"B", "Hq", "Nq", "D"}, suffix)) ||
      failed(describe(loc, step.key, "k", {"B", "Hk", "Nk", "D"}, suffix)) ||
      failed(describe(loc, step.value, "v", {"B", "Hk", "Nk", "Dv"},
                      suffix)) ||
      failed(describe(loc, step.output, "o", {"B", "Hq", "Nq", "Dv"},
                      suffix)))
    return failure();
  if (step.lse)
    if (failed(describe(loc, step.lse, "lse", {"B", "Hq", "Nq"}, suffix)))
      return failure();
  // GQA: Hq a multiple of Hk, checked by the verifier when both are static.
  auto heads = [](Value value) {
    return cast<MemRefType>(value.getType()).getDimSize(1);
  };
  // (Only when k has its own description: a buffer read as q and k has
  // Hq = Hk.)
  auto key = cast<BlockArgument>(step.key);
  if (ShapedType::isDynamic(heads(step.key)) &&
      arguments[key.getArgNumber()]->name == "k" + suffix)
    constraints.push_back(
        (ShapedType::isDynamic(heads(step.query))
             ? "Hq" + suffix
             : std::to_string(heads(step.query))) +
        " % Hk" + suffix + " == 0");
  return success();
}

LogicalResult LaunchFacts::addLinearStep(Location loc, Value query, Value key,
                                         Value value, Value output, Value decay,
                                         Value initialState, Value finalState) {
  std::string suffix = steps == 0 ? "" : "_" + std::to_string(steps);
  ++steps;
  SmallVector<std::tuple<Value, StringRef, SmallVector<StringRef, 4>>> roles{
      {query, "q", {"B", "H", "N", "D"}},
      {key, "k", {"B", "H", "N", "D"}},
      {value, "v", {"B", "H", "N", "E"}},
      {output, "o", {"B", "H", "N", "E"}},
      {decay, "decay", {"H"}},
      {initialState, "initial_state", {"B", "H", "D", "E"}},
      {finalState, "final_state", {"B", "H", "D", "E"}}};
  for (auto &[operand, role, symbols] : roles)
    if (operand && failed(describe(loc, operand, role, symbols, suffix)))
      return failure();
  return success();
}

/// The manifest dtype of `type`, or "" when a bundle cannot carry it.
static StringRef dtypeName(Type type) {
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isF32())
    return "f32";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(8))
    return "i8";
  if (type.isInteger(1))
    return "i1";
  return "";
}

/// The manifest text of one shape entry.
static std::string shapeEntryText(Attribute entry) {
  if (auto symbol = dyn_cast<StringAttr>(entry))
    return symbol.str();
  return std::to_string(cast<IntegerAttr>(entry).getInt());
}

FailureOr<std::string> LaunchFacts::expressionOf(Location loc, Value value) {
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)))
    return std::to_string(constant.getSExtValue());
  Operation *def = value.getDefiningOp();
  // An extent of a scratch allocation is the size it was allocated with.
  if (auto dim = dyn_cast_or_null<memref::DimOp>(def))
    if (auto alloc = dim.getSource().getDefiningOp<memref::AllocOp>())
      if (std::optional<int64_t> index = dim.getConstantIndex();
          index && alloc.getType().isDynamicDim(*index))
        return expressionOf(
            loc,
            alloc
                .getDynamicSizes()[alloc.getType().getDynamicDimIndex(*index)]);
  if (auto dim = dyn_cast_or_null<memref::DimOp>(def)) {
    auto argument = dyn_cast<BlockArgument>(dim.getSource());
    std::optional<int64_t> index = dim.getConstantIndex();
    if (argument && argument.getOwner() == &func.getBody().front() && index) {
      // Described now if no step named it, so that the grid can use it.
      unsigned number = argument.getArgNumber();
      if (number < arguments.size() &&
          isa<MemRefType>(argument.getType()) &&
          succeeded(describeGeneric(number))) {
        std::optional<Argument> &entry = arguments[number];
        if (*index < static_cast<int64_t>(entry->shape.size()))
          return shapeEntryText(entry->shape[*index]);
      }
    }
  }
  auto binary = [&](Value lhs, Value rhs,
                    StringRef op) -> FailureOr<std::string> {
    FailureOr<std::string> a = expressionOf(loc, lhs);
    FailureOr<std::string> b = expressionOf(loc, rhs);
    if (failed(a) || failed(b))
      return failure();
    if (op == "ceildiv")
      return "ceildiv(" + *a + ", " + *b + ")";
    return "(" + *a + " " + op.str() + " " + *b + ")";
  };
  if (auto ceilDiv = dyn_cast_or_null<arith::CeilDivUIOp>(def))
    return binary(ceilDiv.getLhs(), ceilDiv.getRhs(), "ceildiv");
  if (auto mul = dyn_cast_or_null<arith::MulIOp>(def))
    return binary(mul.getLhs(), mul.getRhs(), "*");
  if (auto add = dyn_cast_or_null<arith::AddIOp>(def))
    return binary(add.getLhs(), add.getRhs(), "+");
  return emitError(loc) << "attn-to-gpu: a grid extent is not an expression "
                           "of the function's argument extents, so the "
                           "bundle cannot state it";
}

FailureOr<gpu::LaunchOp> LaunchFacts::createLaunch(ImplicitLocOpBuilder &b,
                                                   ArrayRef<Value> grid,
                                                   int64_t threads,
                                                   int64_t sharedBytes) {
  Value one = arith::ConstantIndexOp::create(b, 1);
  Value blockSize = arith::ConstantIndexOp::create(b, threads);
  auto launch = gpu::LaunchOp::create(
      b, grid[0], grid[1], grid[2], blockSize, one, one,
      /*dynamicSharedMemorySize=*/
      arith::ConstantIntOp::create(b, b.getI32Type(), sharedBytes));
  std::string kernelName = nextKernelName();
  launch.setModuleAttr(FlatSymbolRefAttr::get(
      b.getContext(), b.getStringAttr(moduleName())));
  launch.setFunctionAttr(
      FlatSymbolRefAttr::get(b.getContext(), b.getStringAttr(kernelName)));
  if (failed(addLaunch(b.getLoc(), kernelName, grid, threads, sharedBytes)))
    return failure();
  return launch;
}

LogicalResult LaunchFacts::addLaunch(Location loc, StringRef kernel,
                                     ArrayRef<Value> grid, int64_t threads,
                                     int64_t sharedBytes) {
  Builder b(func.getContext());
  SmallVector<Attribute> extents;
  for (auto [axis, value] : llvm::enumerate(grid)) {
    FailureOr<std::string> expression = expressionOf(loc, value);
    if (failed(expression))
      return failure();
    // A static y or z extent (e.g. a static head count) is checked here;
    // the runtime checks the others.
    int64_t extent = 0;
    if (axis > 0 && !StringRef(*expression).getAsInteger(10, extent) &&
        extent > TargetInfo::kMaxGridYZ)
      return emitError(loc)
             << "attn-to-gpu: grid " << (axis == 1 ? "y (query heads)"
                                                   : "z (batch)")
             << " is " << extent << ", more than the "
             << TargetInfo::kMaxGridYZ << " a launch allows";
    extents.push_back(b.getStringAttr(*expression));
  }
  launches.push_back(b.getDictionaryAttr({
      b.getNamedAttr("kernel", b.getStringAttr(kernel)),
      b.getNamedAttr("grid", b.getArrayAttr(extents)),
      b.getNamedAttr("block", b.getI64ArrayAttr({threads, 1, 1})),
      b.getNamedAttr("shared_bytes", b.getI64IntegerAttr(sharedBytes)),
  }));
  return success();
}

LogicalResult LaunchFacts::describeBlockMask(TileListsOp lists) {
  Value mask = lists.getBlockMask();
  auto argument = dyn_cast<BlockArgument>(mask);
  if (!argument || argument.getOwner() != &func.getBody().front())
    return lists.emitOpError()
           << "attn-to-gpu: the block mask must be an argument of the "
              "function, so that a bundle can describe it";
  unsigned index = argument.getArgNumber();
  if (arguments[index] || func.getArgAttr(index, "attn.shape"))
    return success();
  Builder b(func.getContext());
  auto blocks = [&](Value length) -> FailureOr<Attribute> {
    FailureOr<std::string> expression = expressionOf(lists.getLoc(), length);
    if (failed(expression))
      return failure();
    return Attribute(b.getStringAttr("ceildiv(" + *expression + ", " +
                                     std::to_string(lists.getSize()) + ")"));
  };
  FailureOr<Attribute> queryBlocks = blocks(lists.getQueryLen());
  FailureOr<Attribute> keyBlocks = blocks(lists.getKeyLen());
  if (failed(queryBlocks) || failed(keyBlocks))
    return failure();
  Argument described;
  auto name = func.getArgAttrOfType<StringAttr>(index, "attn.name");
  described.name = name ? name.str() : "block_mask";
  auto type = cast<MemRefType>(mask.getType());
  static constexpr StringLiteral kLeadingSymbols[] = {"B", "Hq"};
  if (lists.isPerHead())
    for (auto [dim, symbol] : llvm::enumerate(kLeadingSymbols))
      described.shape.push_back(
          type.isDynamicDim(dim)
              ? Attribute(b.getStringAttr(symbol))
              : Attribute(b.getI64IntegerAttr(type.getDimSize(dim))));
  described.shape.append({*queryBlocks, *keyBlocks});
  arguments[index] = described;
  return success();
}

LogicalResult LaunchFacts::describeLike(Location loc, Value value,
                                        ValueRange sizes,
                                        StringRef defaultName) {
  auto argument = dyn_cast<BlockArgument>(value);
  if (!argument || argument.getOwner() != &func.getBody().front())
    return emitError(loc) << "attn-to-gpu: the " << defaultName
                          << " must be an argument of the function, so that "
                             "a bundle can describe it";
  unsigned index = argument.getArgNumber();
  if (arguments[index] || func.getArgAttr(index, "attn.shape"))
    return success();
  Builder b(func.getContext());
  auto type = cast<MemRefType>(value.getType());
  Argument described;
  auto name = func.getArgAttrOfType<StringAttr>(index, "attn.name");
  described.name = name ? name.str() : defaultName.str();
  // A default name another argument has already gets the argument number.
  if (!name && llvm::any_of(arguments, [&](const std::optional<Argument> &a) {
        return a && a->name == described.name;
      }))
    described.name += "_arg" + std::to_string(index);
  for (auto [dim, size] : llvm::enumerate(sizes)) {
    if (!type.isDynamicDim(dim)) {
      described.shape.push_back(b.getI64IntegerAttr(type.getDimSize(dim)));
      continue;
    }
    FailureOr<std::string> expression = expressionOf(loc, size);
    if (failed(expression))
      return failure();
    described.shape.push_back(b.getStringAttr(*expression));
  }
  arguments[index] = described;
  return success();
}

std::string LaunchFacts::nameOf(Value value) const {
  auto argument = dyn_cast<BlockArgument>(value);
  if (!argument || argument.getOwner() != &func.getBody().front())
    return "";
  const std::optional<Argument> &entry = arguments[argument.getArgNumber()];
  return entry ? entry->name : "";
}

Value LaunchFacts::StepOperands::beforeGather(Value rows) {
  for (Operation *user : rows.getUsers())
    if (auto gather = dyn_cast<GatherRowsOp>(user))
      if (gather.getTarget() == rows)
        return gather.getSource();
  return rows;
}

LogicalResult LaunchFacts::addInputCheck(Location loc, StringRef scratchName,
                                         Value input, StringRef message) {
  std::string argument = nameOf(input);
  if (argument.empty())
    return emitError(loc) << "attn-to-gpu: the values checked for '" << message
                          << "' must be a described argument of the function";
  Builder b(func.getContext());
  inputChecks.push_back(b.getDictionaryAttr({
      b.getNamedAttr("scratch", b.getStringAttr(scratchName)),
      b.getNamedAttr("argument", b.getStringAttr(argument)),
      b.getNamedAttr("message", b.getStringAttr(message)),
  }));
  return success();
}

LogicalResult LaunchFacts::describeFloodFill(FloodFillOp derivation) {
  Builder b(func.getContext());
  auto argumentOf = [&](Value value) -> std::optional<unsigned> {
    auto argument = dyn_cast<BlockArgument>(value);
    if (!argument || argument.getOwner() != &func.getBody().front())
      return std::nullopt;
    return argument.getArgNumber();
  };
  std::optional<unsigned> scores = argumentOf(derivation.getScores());
  std::optional<unsigned> mask = argumentOf(derivation.getBlockMask());
  if (!scores || !mask)
    return derivation.emitOpError()
           << "attn-to-gpu: the score map and the block mask must be "
              "arguments of the function, so that a bundle can describe them";
  auto nameOf = [&](unsigned index, StringRef fallback) {
    auto name = func.getArgAttrOfType<StringAttr>(index, "attn.name");
    return name ? name.str() : fallback.str();
  };
  // The map's side: static, or one symbol for both extents.
  auto scoresType = cast<MemRefType>(derivation.getScores().getType());
  std::string side;
  if (!arguments[*scores] && !func.getArgAttr(*scores, "attn.shape")) {
    Argument described;
    described.name = nameOf(*scores, "scores");
    int64_t extent = scoresType.isDynamicDim(0) ? scoresType.getDimSize(1)
                                                : scoresType.getDimSize(0);
    Attribute entry = ShapedType::isDynamic(extent)
                          ? Attribute(b.getStringAttr(described.name + "_n"))
                          : Attribute(b.getI64IntegerAttr(extent));
    described.shape = {entry, entry};
    side = shapeEntryText(entry);
    arguments[*scores] = described;
    if (ShapedType::isDynamic(extent))
      constraints.push_back(side + " % " +
                            std::to_string(derivation.getBlockSize()) +
                            " == 0");
  } else {
    if (failed(describeGeneric(*scores)))
      return failure();
    side = shapeEntryText(arguments[*scores]->shape[0]);
  }
  if (!arguments[*mask] && !func.getArgAttr(*mask, "attn.shape")) {
    Argument described;
    described.name = nameOf(*mask, "block_mask");
    Attribute blocks = b.getStringAttr(
        "ceildiv(" + side + ", " + std::to_string(derivation.getBlockSize()) +
        ")");
    described.shape = {blocks, blocks};
    arguments[*mask] = described;
  }
  return success();
}

LogicalResult LaunchFacts::addScratch(Location loc, StringRef name,
                                      MemRefType type, ValueRange sizes) {
  Builder b(func.getContext());
  StringRef dtype = dtypeName(type.getElementType());
  if (dtype.empty())
    return emitError(loc) << "attn-to-gpu: scratch buffer '" << name
                          << "' of type " << type
                          << " cannot be described in a bundle";
  SmallVector<Attribute> shape;
  unsigned dynamic = 0;
  for (int64_t extent : type.getShape()) {
    if (!ShapedType::isDynamic(extent)) {
      shape.push_back(b.getI64IntegerAttr(extent));
      continue;
    }
    FailureOr<std::string> expression = expressionOf(loc, sizes[dynamic++]);
    if (failed(expression))
      return failure();
    shape.push_back(b.getStringAttr(*expression));
  }
  scratch.push_back(b.getDictionaryAttr({
      b.getNamedAttr("name", b.getStringAttr(name)),
      b.getNamedAttr("dtype", b.getStringAttr(dtype)),
      b.getNamedAttr("shape", b.getArrayAttr(shape)),
  }));
  return success();
}

LogicalResult LaunchFacts::describeGeneric(unsigned index) {
  std::optional<Argument> &entry = arguments[index];
  if (entry)
    return success();
  // An argument no role named: its attributes, or argN and argN_dK.
  Builder b(func.getContext());
  auto memref = cast<MemRefType>(func.getArgument(index).getType());
  Argument generic;
  auto name = func.getArgAttrOfType<StringAttr>(index, "attn.name");
  generic.name = name ? name.str() : "arg" + std::to_string(index);
  auto shape = func.getArgAttrOfType<ArrayAttr>(index, "attn.shape");
  if (shape && shape.size() != static_cast<size_t>(memref.getRank()))
    return func.emitOpError()
           << "attn-to-gpu: attn.shape of argument #" << index << " has "
           << shape.size() << " entries for a rank-" << memref.getRank()
           << " memref";
  for (auto [dim, extent] : llvm::enumerate(memref.getShape())) {
    if (!ShapedType::isDynamic(extent)) {
      generic.shape.push_back(b.getI64IntegerAttr(extent));
      continue;
    }
    Attribute given = shape ? shape[dim] : Attribute();
    if (given && !isa<StringAttr, IntegerAttr>(given))
      return func.emitOpError()
             << "attn-to-gpu: attn.shape of argument #" << index
             << " must hold symbols (strings) and integers";
    generic.shape.push_back(
        given ? given
              : b.getStringAttr(generic.name + "_d" + std::to_string(dim)));
  }
  entry = generic;
  return success();
}

SmallVector<bool> LaunchFacts::writtenArguments(func::FuncOp func) {
  SmallVector<bool> written(func.getNumArguments(), false);
  if (func.isExternal())
    return written;
  Block &entry = func.getBody().front();
  func.walk([&](MemoryEffectOpInterface op) {
    SmallVector<MemoryEffects::EffectInstance> effects;
    op.getEffects(effects);
    for (const MemoryEffects::EffectInstance &effect : effects) {
      if (!isa<MemoryEffects::Write>(effect.getEffect()))
        continue;
      Value value = effect.getValue();
      while (value) {
        if (auto view = value.getDefiningOp<ViewLikeOpInterface>())
          value = view.getViewSource();
        else
          break;
      }
      auto argument = dyn_cast_or_null<BlockArgument>(value);
      if (argument && argument.getOwner() == &entry)
        written[argument.getArgNumber()] = true;
    }
  });
  return written;
}

LogicalResult LaunchFacts::write() {
  Builder b(func.getContext());
  SmallVector<Attribute> described;
  for (auto [index, entry] : llvm::enumerate(arguments)) {
    Type type = func.getArgument(index).getType();
    auto memref = dyn_cast<MemRefType>(type);
    StringRef dtype = memref ? dtypeName(memref.getElementType()) : "";
    if (dtype.empty())
      return func.emitOpError()
             << "attn-to-gpu: argument #" << index << " of type " << type
             << " cannot be passed to a kernel bundle (expected a memref of "
                "f16, bf16, f32, i32, i8 or i1)";
    if (failed(describeGeneric(index)))
      return failure();
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr("name", b.getStringAttr(entry->name)),
        b.getNamedAttr("dtype", b.getStringAttr(dtype)),
        b.getNamedAttr("shape", b.getArrayAttr(entry->shape)),
    };
    if (written[index])
      fields.push_back(b.getNamedAttr("writes", b.getUnitAttr()));
    described.push_back(b.getDictionaryAttr(fields));
  }
  SmallVector<Attribute> constraintAttrs;
  for (const std::string &constraint : constraints)
    constraintAttrs.push_back(b.getStringAttr(constraint));
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("target", b.getStringAttr(chip)),
      b.getNamedAttr("module", b.getStringAttr(moduleName())),
      b.getNamedAttr("arguments", b.getArrayAttr(described)),
      b.getNamedAttr("constraints", b.getArrayAttr(constraintAttrs)),
      b.getNamedAttr("launches", b.getArrayAttr(launches)),
  };
  if (!scratch.empty())
    entries.push_back(b.getNamedAttr("scratch", b.getArrayAttr(scratch)));
  if (!inputChecks.empty())
    entries.push_back(
        b.getNamedAttr("input_checks", b.getArrayAttr(inputChecks)));
  func->setAttr("attn.bundle", b.getDictionaryAttr(entries));
  return success();
}
