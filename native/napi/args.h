// args.h - the one argument reader of the addon's descriptor calls (scripts/addon-schema.js).
//
// lib/ validates user input; this re-checks only what would be unsafe: every typed array's
// element type, that every index a kernel will touch, derived from the dims, lies inside it
// (int64 arithmetic, kMaxElems), and the presence of each buffer. Failures throw JS TypeError /
// RangeError named by the field (the classes the ts backend throws); nothing aborts or prints.
//
// A Desc reads one descriptor: the header (a Float64Array of exactly the declared length, copied
// at once, so a shared buffer changed by another thread cannot change a value after its check)
// and the buffers after it. Each field is read through exactly one accessor, exactly once, by the
// accessor its declared kind and presence call for; finish() proves every field was read (a
// mismatch is a bug in this folder, reported as a plain Error, never seen by a valid call).
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../cell/cell.h"
#include "schema.gen.h"

namespace cellstate {

// Element count limit for any buffer the addon computes over or allocates: 2^31, the library's
// MAX_ELEMENTS (lib/tensor.ts, docs/security.md#limits), so every element index fits an int32 and no product
// of two checked sizes overflows int64 (index arithmetic in the kernels is int64 throughout).
constexpr int64_t kMaxElems = int64_t{1} << 31;

// What a cellPrepare External holds: a reference to the packed weights (null once released).
struct CellHandle {
  std::shared_ptr<const CellPacked> w;
  int64_t bytes = 0;  // reported to V8 as external memory while w is held
};
using CellRef = std::shared_ptr<const CellPacked>;
extern const napi_type_tag kCellTag;

class Desc {
 public:
  // The descriptor of `spec` whose first JS argument is info[base].
  Desc(const Napi::CallbackInfo& info, const char* fn, const schema::CallSpec& spec, size_t base = 0);

  // Header fields. An integer (dim or code) in [lo, hi]; a flag (0 or 1); any float64.
  int64_t integer(int f, int64_t lo, int64_t hi);
  bool flag(int f);
  double number(int f);

  // Buffers: a Float32Array of at least `need` elements (after its own byteOffset), by presence:
  // required, optional (null -> nullptr), when (present exactly when `want`, else null).
  float* f32(int b, int64_t need);
  float* f32_all(int b, int64_t* length);  // required, any length: its pointer and length
  float* f32_opt(int b, int64_t need);
  float* f32_when(int b, bool want, int64_t need);
  // An optional Int32Array of exactly `count` entries, copied (JS may not change it under us).
  bool i32_opt(int b, int64_t count, std::vector<int32_t>* out);
  CellHandle* handle(int b);
  CellRef cell(int b);  // a handle whose weights were not released
  // An Array of Float32Arrays (reading its elements may run JS: the caller reads every list first).
  std::vector<Napi::Float32Array> f32list(int b);
  std::vector<Napi::Float32Array> f32list_opt(int b);
  bool is_null(int b) const;  // inspects without reading (for a check that spans two fields)
  // A cellParams list (an Array of Float32Array or null): each entry's data and length, data null
  // for a null entry. Every entry is fetched before any is inspected (fetching may run JS), and
  // nothing else about it is checked here: cell_calls.cc checks it against the cell's kind.
  struct ListEntry {
    float* data;
    int64_t length;  // -1 for null, -2 for anything else that is not a Float32Array
  };
  std::vector<ListEntry> cell_params(int b);
  std::vector<ListEntry> cell_params_opt(int b);  // optional: an empty vector for null
  // A qParams list (an Array of Uint16Array, Int8Array or null): the same, length -2 for anything
  // else; `format` the entry's precision code (Precision::bf16 for a Uint16Array, int8 for an
  // Int8Array), 0 for null. Optional: an empty vector for null.
  struct QEntry {
    void* data;
    int64_t length;
    int format;
  };
  std::vector<QEntry> q_params_opt(int b);
  // A TypeError / RangeError about entry i (named `what`) of list buffer b.
  [[noreturn]] void entry_type_error(int b, size_t i, const char* what, const std::string& expected) const;
  [[noreturn]] void entry_range_error(int b, size_t i, const char* what, const std::string& msg) const;

  // Every header field and buffer was read exactly once.
  void finish() const;

  [[noreturn]] void range_error(const std::string& msg) const;
  [[noreturn]] void type_error(int b, const std::string& what) const;
  [[noreturn]] void header_range_error(int f, const std::string& what) const;
  Napi::Env env() const { return info_.Env(); }
  const char* fn() const { return fn_; }
  const char* buffer_name(int b) const { return spec_.buffers[b].name; }

 private:
  Napi::Value at(int b) const { return info_[base_ + (spec_.header_len > 0 ? 1 : 0) + static_cast<size_t>(b)]; }
  size_t arg_index(int b) const { return base_ + (spec_.header_len > 0 ? 1 : 0) + static_cast<size_t>(b); }
  void take_header(int f, schema::Field kind);
  void take_buffer(int b, schema::Dtype dtype, schema::Presence presence);
  float* f32_checked(int b, int64_t need);
  std::vector<Napi::Float32Array> list(int b);
  std::vector<Napi::Value> list_values(int b, const char* expected);
  std::vector<ListEntry> f32_entries(int b, const char* expected);
  [[noreturn]] void internal(const std::string& what) const;

  const Napi::CallbackInfo& info_;
  const char* fn_;
  const schema::CallSpec& spec_;
  size_t base_;
  double header_[16] = {};
  uint32_t header_seen_ = 0, buffers_seen_ = 0;
};

// The JS argument count of a call (a TypeError naming fn if it differs).
void check_count(const Napi::CallbackInfo& info, const char* fn, size_t want);

// Checked x*y for non-negative operands within kMaxElems.
int64_t mul_checked(const Desc& a, int64_t x, int64_t y, const char* what);

}  // namespace cellstate
