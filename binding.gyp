# node-gyp build of the native backend (npm install). Keep in lockstep with CMakeLists.txt:
# same sources (scripts/native-sources.js), NAPI_VERSION, C++ exceptions, hidden visibility,
# -O3, and ISA flags ONLY on the per-ISA files (built as their own static libraries, since gyp
# has no per-file flags). Never a build-machine-specific -march flag: the kernels are chosen at run time.
{
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags": ["-O3", "-fvisibility=hidden"],
    "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-fexceptions"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["-O3"]
    },
    "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } }
  },
  "targets": [
    {
      "target_name": "cellstate",
      "sources": ["<!@(node scripts/native-sources.js common)"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["cellstate_avx2", "cellstate_avx512"] }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "cellstate_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx2)"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } }
        },
        {
          "target_name": "cellstate_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx512)"],
          "cflags_cc": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX512"] } }
        }
      ]
    }]
  ]
}
