# node-gyp build of the native backend (npm install). Keep in lockstep with CMakeLists.txt:
# same sources (scripts/native-sources.js), NAPI_VERSION, C++ exceptions, hidden visibility,
# -O3, and ISA flags ONLY on the per-ISA files (built as their own static libraries, since gyp
# has no per-file flags). The flags and tiers come from the one ISA table, native/isa.json, through
# scripts/native-sources.js (never a build-machine-specific -march flag: kernels are chosen at run
# time). gyp cannot loop, so each x86-64 ISA is one static-library block below naming only its ISA;
# AArch64 adds the *_neon.cc files (NEON is part of the base ISA there, so they need no flags).
# CELLSTATE_PORTABLE=1 (set by scripts/prebuild.js only) makes the Linux binary load on glibc 2.28:
# static libstdc++ kept local, and the few newer glibc symbols pinned (native/compat/glibc_compat.cc
# says how and why). The CMake build is for development and has no portable mode.
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
  "variables": {
    "cellstate_portable%": "<!(node -p \"process.env.CELLSTATE_PORTABLE === '1' ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "cellstate",
      "sources": ["<!@(node scripts/native-sources.js common)"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["cellstate_avx2", "cellstate_avx2_vnni", "cellstate_avx512", "cellstate_avx512_vnni", "cellstate_avx512_bf16", "cellstate_amx"] }],
        ["target_arch=='arm64'", { "sources": ["<!@(node scripts/native-sources.js neon)"] }],
        ["OS=='linux' and cellstate_portable==1", {
          "defines": ["CELLSTATE_GLIBC_COMPAT"],
          "ldflags": [
            "-static-libstdc++", "-Wl,--exclude-libs,ALL", "-Wl,--gc-sections",
            "-Wl,--wrap=pthread_create", "-Wl,--wrap=pthread_join", "-Wl,--wrap=pthread_mutex_trylock",
            "-Wl,--wrap=__libc_single_threaded",
            "-Wl,--no-as-needed", "-l:libpthread.so.0", "-Wl,--as-needed"
          ]
        }]
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
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags avx2)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags avx2)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc avx2)"] } }
        },
        {
          "target_name": "cellstate_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx512)"],
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags avx512)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags avx512)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc avx512)"] } }
        },
        {
          "target_name": "cellstate_avx2_vnni",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx2_vnni)"],
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags avx2_vnni)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags avx2_vnni)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc avx2_vnni)"] } }
        },
        {
          "target_name": "cellstate_avx512_vnni",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx512_vnni)"],
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags avx512_vnni)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags avx512_vnni)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc avx512_vnni)"] } }
        },
        {
          "target_name": "cellstate_avx512_bf16",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js avx512_bf16)"],
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags avx512_bf16)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags avx512_bf16)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc avx512_bf16)"] } }
        },
        {
          "target_name": "cellstate_amx",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-sources.js amx)"],
          "cflags_cc": ["<!@(node scripts/native-sources.js --flags amx)"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "<!@(node scripts/native-sources.js --flags amx)"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!(node scripts/native-sources.js --msvc amx)"] } }
        }
      ]
    }]
  ]
}
