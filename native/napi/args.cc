// args.cc - the argument reader of the descriptor calls (see args.h).
#include "args.h"

#include <cstring>

namespace cellstate {

const napi_type_tag kCellTag = {0x6c73746d63656c6cULL, 0x7374617465303033ULL};  // "lstmcell" "state003"

namespace {
constexpr const char* kDtypeName[] = {"a Float32Array", "an Int32Array", "prepared cell weights", "an Array of Float32Arrays",
                                     "an Array of Float32Arrays and nulls (the cell's parameters)",
                                     "an Array of Uint16Arrays (bf16) or Int8Arrays (int8) and nulls (the quantized matrices), or null"};

// A typed array's element type, length and data (byteOffset applied) in one N-API call; false
// when v is not a typed array. (IsTypedArray + TypedArrayType + As<…>().Data() take three or
// four: about 10 ns each, times every buffer of every call.)
bool typed_array(napi_env env, napi_value v, napi_typedarray_type* type, size_t* length, void** data) {
  return napi_get_typedarray_info(env, v, type, length, data, nullptr, nullptr) == napi_ok;
}
}

void check_count(const Napi::CallbackInfo& info, const char* fn, size_t want) {
  if (info.Length() != want) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(want) + " arguments, got " + std::to_string(info.Length()));
  }
}

Desc::Desc(const Napi::CallbackInfo& info, const char* fn, const schema::CallSpec& spec, size_t base)
    : info_(info), fn_(fn), spec_(spec), base_(base) {
  static_assert(sizeof(header_) / sizeof(header_[0]) <= 32, "header bits");
  if (spec.header_len > static_cast<int>(sizeof(header_) / sizeof(header_[0])) || spec.buffers_len > 32) internal("a descriptor too long");
  if (spec.header_len == 0) return;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!typed_array(info.Env(), info[base], &type, &length, &data) || type != napi_float64_array || length != static_cast<size_t>(spec.header_len)) {
    std::string names;
    for (int f = 0; f < spec.header_len; ++f) names += (f ? ", " : "") + std::string(spec.header[f].name);
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(base) + ": expected the header, a Float64Array of " +
                                               std::to_string(spec.header_len) + " (" + names + ")");
  }
  std::memcpy(header_, data, sizeof(double) * static_cast<size_t>(spec.header_len));
}

void Desc::internal(const std::string& what) const {
  throw Napi::Error::New(info_.Env(), std::string(fn_) + ": internal error in the argument reader: " + what);
}

void Desc::range_error(const std::string& msg) const { throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + msg); }

void Desc::type_error(int b, const std::string& what) const {
  throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + spec_.buffers[b].name + " (argument " + std::to_string(arg_index(b)) + "): expected " + what);
}

void Desc::header_range_error(int f, const std::string& what) const {
  range_error(std::string(spec_.header[f].name) + ": expected " + what + ", got " + Napi::Number::New(info_.Env(), header_[f]).ToString().Utf8Value());
}

void Desc::take_header(int f, schema::Field kind) {
  if (f < 0 || f >= spec_.header_len) internal("no header field " + std::to_string(f));
  if (spec_.header[f].kind != kind && !(kind == schema::Field::dim && spec_.header[f].kind == schema::Field::code)) {
    internal(std::string(spec_.header[f].name) + " read as the wrong kind");
  }
  if (header_seen_ & (1u << f)) internal(std::string(spec_.header[f].name) + " read twice");
  header_seen_ |= 1u << f;
}

void Desc::take_buffer(int b, schema::Dtype dtype, schema::Presence presence) {
  if (b < 0 || b >= spec_.buffers_len) internal("no buffer " + std::to_string(b));
  const schema::BufferField& s = spec_.buffers[b];
  if (s.dtype != dtype || s.presence != presence) internal(std::string(s.name) + " read as the wrong dtype or presence");
  if (buffers_seen_ & (1u << b)) internal(std::string(s.name) + " read twice");
  buffers_seen_ |= 1u << b;
}

void Desc::finish() const {
  const uint32_t h = spec_.header_len == 32 ? ~0u : (1u << spec_.header_len) - 1, b = spec_.buffers_len == 32 ? ~0u : (1u << spec_.buffers_len) - 1;
  if (header_seen_ != h || buffers_seen_ != b) internal("a field was not checked");
}

int64_t Desc::integer(int f, int64_t lo, int64_t hi) {
  take_header(f, schema::Field::dim);
  const double v = header_[f];
  // Range first: the conversion is defined only for values in range (not NaN, not huge).
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != static_cast<double>(static_cast<int64_t>(v))) {
    header_range_error(f, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int64_t>(v);
}

bool Desc::flag(int f) {
  take_header(f, schema::Field::flag);
  if (header_[f] != 0 && header_[f] != 1) header_range_error(f, "0 or 1 (a flag)");
  return header_[f] == 1;
}

double Desc::number(int f) {
  take_header(f, schema::Field::number);
  return header_[f];
}

bool Desc::is_null(int b) const {
  napi_valuetype t = napi_undefined;
  napi_typeof(info_.Env(), at(b), &t);
  return t == napi_null || t == napi_undefined;
}

float* Desc::f32_checked(int b, int64_t need) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!typed_array(info_.Env(), at(b), &type, &length, &data) || type != napi_float32_array) type_error(b, kDtypeName[0]);
  if (need < 0 || static_cast<int64_t>(length) < need) {
    range_error(std::string(spec_.buffers[b].name) + ": expected at least " + std::to_string(need) + " elements, got " + std::to_string(length));
  }
  return static_cast<float*>(data);
}

float* Desc::f32(int b, int64_t need) {
  take_buffer(b, schema::Dtype::f32, schema::Presence::required);
  return f32_checked(b, need);
}

float* Desc::f32_all(int b, int64_t* length) {
  take_buffer(b, schema::Dtype::f32, schema::Presence::required);
  napi_typedarray_type type;
  size_t n = 0;
  void* data = nullptr;
  if (!typed_array(info_.Env(), at(b), &type, &n, &data) || type != napi_float32_array) type_error(b, kDtypeName[0]);
  *length = static_cast<int64_t>(n);
  return static_cast<float*>(data);
}

float* Desc::f32_opt(int b, int64_t need) {
  take_buffer(b, schema::Dtype::f32, schema::Presence::optional);
  return is_null(b) ? nullptr : f32_checked(b, need);
}

float* Desc::f32_when(int b, bool want, int64_t need) {
  take_buffer(b, schema::Dtype::f32, schema::Presence::when);
  if (want) return f32_checked(b, need);
  if (!is_null(b)) type_error(b, "null (this cell has none)");
  return nullptr;
}

bool Desc::i32_opt(int b, int64_t count, std::vector<int32_t>* out) {
  take_buffer(b, schema::Dtype::i32, schema::Presence::optional);
  if (is_null(b)) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!typed_array(info_.Env(), at(b), &type, &length, &data) || type != napi_int32_array) type_error(b, "an Int32Array or null");
  if (static_cast<int64_t>(length) != count) range_error(std::string(spec_.buffers[b].name) + ": expected " + std::to_string(count) + " entries, got " + std::to_string(length));
  const int32_t* p = static_cast<const int32_t*>(data);
  out->assign(p, p + length);
  return true;
}

CellHandle* Desc::handle(int b) {
  take_buffer(b, schema::Dtype::cell, schema::Presence::required);
  const Napi::Value v = at(b);
  if (!v.IsExternal()) type_error(b, kDtypeName[2]);
  auto ext = v.As<Napi::External<CellHandle>>();
  bool ok = false;
  if (napi_check_object_type_tag(info_.Env(), ext, &kCellTag, &ok) != napi_ok || !ok) type_error(b, kDtypeName[2]);
  return ext.Data();
}

CellRef Desc::cell(int b) {
  CellRef w = handle(b)->w;
  if (!w) type_error(b, "prepared cell weights that were not released");
  return w;
}

std::vector<Napi::Float32Array> Desc::list(int b) {
  constexpr int64_t kMaxTensors = int64_t{1} << 20;
  const Napi::Value v = at(b);
  if (!v.IsArray()) type_error(b, kDtypeName[3]);
  Napi::Array arr = v.As<Napi::Array>();
  const int64_t len = arr.Length();
  if (len > kMaxTensors) range_error(std::string(spec_.buffers[b].name) + ": expected at most " + std::to_string(kMaxTensors) + " tensors");
  std::vector<Napi::Float32Array> out;
  out.reserve(static_cast<size_t>(len));
  for (int64_t k = 0; k < len; ++k) {
    Napi::Value e = arr.Get(static_cast<uint32_t>(k));
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      type_error(b, std::string("a Float32Array at ") + spec_.buffers[b].name + "[" + std::to_string(k) + "]");
    }
    out.push_back(e.As<Napi::Float32Array>());
  }
  return out;
}

std::vector<Napi::Float32Array> Desc::f32list(int b) {
  take_buffer(b, schema::Dtype::f32list, schema::Presence::required);
  return list(b);
}

std::vector<Napi::Float32Array> Desc::f32list_opt(int b) {
  take_buffer(b, schema::Dtype::f32list, schema::Presence::optional);
  return is_null(b) ? std::vector<Napi::Float32Array>() : list(b);
}

// The entries of a list buffer, every one fetched before any is inspected (fetching may run JS).
std::vector<Napi::Value> Desc::list_values(int b, const char* expected) {
  constexpr uint32_t kMaxEntries = 64;  // far above any kind's parameter count
  const Napi::Value v = at(b);
  if (!v.IsArray()) type_error(b, expected);
  Napi::Array arr = v.As<Napi::Array>();
  const uint32_t len = arr.Length();
  if (len > kMaxEntries) range_error(std::string(spec_.buffers[b].name) + ": expected at most " + std::to_string(kMaxEntries) + " entries, got " + std::to_string(len));
  std::vector<Napi::Value> vals;
  vals.reserve(len);
  for (uint32_t k = 0; k < len; ++k) vals.push_back(arr.Get(k));
  return vals;
}

namespace {
bool null_value(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}
}  // namespace

std::vector<Desc::ListEntry> Desc::f32_entries(int b, const char* expected) {
  const std::vector<Napi::Value> vals = list_values(b, expected);
  std::vector<ListEntry> out;
  out.reserve(vals.size());
  for (const Napi::Value& e : vals) {
    napi_typedarray_type type;
    size_t n = 0;
    void* data = nullptr;
    if (null_value(info_.Env(), e)) out.push_back({nullptr, -1});
    else if (!typed_array(info_.Env(), e, &type, &n, &data) || type != napi_float32_array) out.push_back({nullptr, -2});
    else out.push_back({static_cast<float*>(data), static_cast<int64_t>(n)});
  }
  return out;
}

std::vector<Desc::ListEntry> Desc::cell_params(int b) {
  take_buffer(b, schema::Dtype::cellParams, schema::Presence::required);
  return f32_entries(b, kDtypeName[4]);
}

std::vector<Desc::ListEntry> Desc::cell_params_opt(int b) {
  take_buffer(b, schema::Dtype::cellParams, schema::Presence::optional);
  if (is_null(b)) return {};
  return f32_entries(b, "an Array of Float32Arrays and nulls, or null");
}

std::vector<Desc::QEntry> Desc::q_params_opt(int b) {
  take_buffer(b, schema::Dtype::qParams, schema::Presence::optional);
  if (is_null(b)) return {};
  const std::vector<Napi::Value> vals = list_values(b, kDtypeName[5]);
  std::vector<QEntry> out;
  out.reserve(vals.size());
  for (const Napi::Value& e : vals) {
    napi_typedarray_type type;
    size_t n = 0;
    void* data = nullptr;
    if (null_value(info_.Env(), e)) out.push_back({nullptr, -1, 0});
    else if (!typed_array(info_.Env(), e, &type, &n, &data)) out.push_back({nullptr, -2, 0});
    else if (type == napi_uint16_array) out.push_back({data, static_cast<int64_t>(n), static_cast<int>(Precision::bf16)});
    else if (type == napi_int8_array) out.push_back({data, static_cast<int64_t>(n), static_cast<int>(Precision::int8)});
    else out.push_back({nullptr, -2, 0});
  }
  return out;
}

void Desc::entry_type_error(int b, size_t i, const char* what, const std::string& expected) const {
  throw Napi::TypeError::New(info_.Env(), std::string(fn_) + ": " + spec_.buffers[b].name + "[" + std::to_string(i) + "]" +
                                              " (" + what + ") (argument " +
                                              std::to_string(arg_index(b)) + "): expected " + expected);
}

void Desc::entry_range_error(int b, size_t i, const char* what, const std::string& msg) const {
  range_error(std::string(spec_.buffers[b].name) + "[" + std::to_string(i) + "] (" + what + "): " + msg);
}

int64_t mul_checked(const Desc& a, int64_t x, int64_t y, const char* what) {
  if (x < 0 || y < 0 || (x != 0 && y > kMaxElems / x)) a.range_error(std::string(what) + " is too large");
  return x * y;
}

}  // namespace cellstate
