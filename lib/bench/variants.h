// What the variant harnesses in lib/bench share on the host: a CUDA error check that stops with the failing call, and
// the command line's name filter.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("CUDA %s at %d: %s\n", #x, __LINE__, cudaGetErrorString(e)); exit(1); } } while (0)

const char* ONLY = nullptr;   // argv[1], "a,b": only the variants whose names contain a or b (and v0, the reference)
bool selected(const char* name) {
    if (!ONLY || strncmp(name, "v0", 2) == 0) return true;
    std::string all(ONLY);
    for (size_t at = 0; at <= all.size();) {
        size_t comma = all.find(',', at);
        if (comma == std::string::npos) comma = all.size();
        if (comma > at && strstr(name, all.substr(at, comma - at).c_str())) return true;
        at = comma + 1;
    }
    return false;
}
