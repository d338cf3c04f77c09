{
  "targets": [
    {
      "target_name": "recurrent_native",
      "sources": ["src/backend/native/kernels.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
