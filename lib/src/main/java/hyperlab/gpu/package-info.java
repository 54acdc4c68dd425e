/**
 * The GPU training engine: the nanoGPT model with every residual paradigm in CUDA kernels compiled by NVRTC and
 * cuBLASLt GEMMs, driven through hyperlab.cuda (FFM, no JNI). Its CUDA C sources are resources next to it, one
 * kernel family per file as in llm.c: encoder, layernorm, gelu, classifier, adamw, attention, streams.
 */
package hyperlab.gpu;
