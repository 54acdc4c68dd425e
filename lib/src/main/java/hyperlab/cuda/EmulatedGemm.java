package hyperlab.cuda;

import java.lang.foreign.MemorySegment;

/** The emulator's GEMM: row-major d = epilogue(op(a)·op(b) [+ c] [+ bias]) in plain loops, float64 accumulation. */
final class EmulatedGemm {
    private EmulatedGemm() {
    }

    static void run(long m, long n, long k, long batch, DeviceTensor a, boolean transA, DeviceTensor b, boolean transB,
                    DeviceTensor c, DeviceTensor d, Epilogue epilogue, DeviceTensor bias) {
        if (a.dtype() != DType.F32 && a.dtype() != DType.BF16)
            throw new CudaException("the emulator's matmul supports F32 and BF16, not " + a.dtype());
        DType ta = a.dtype(), tc = d.dtype();
        MemorySegment sa = Emulator.segment(a.address(), a.bytes()), sb = Emulator.segment(b.address(), b.bytes());
        MemorySegment sc = c == null ? null : Emulator.segment(c.address(), c.bytes());
        MemorySegment sd = Emulator.segment(d.address(), d.bytes());
        boolean biasGrad = epilogue == Epilogue.BIAS_GRAD;
        float[] bv = bias == null || biasGrad ? null : bias.toFloatArray();
        if (biasGrad) {                       // Σ_l op(a)[i, l], written (not added) like cuBLASLt's BGRADB
            float[] g = new float[(int) m];
            for (long i = 0; i < m; i++) {
                double s = 0;
                for (long l = 0; l < k; l++) s += ta.get(sa, transA ? l * m + i : i * k + l);
                g[(int) i] = (float) s;
            }
            bias.copyFrom(g);
        }
        for (long p = 0; p < batch; p++) {
            long oa = p * m * k, ob = p * k * n, oc = p * m * n;
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++) {
                    double acc = 0;
                    for (long l = 0; l < k; l++) {
                        double x = ta.get(sa, oa + (transA ? l * m + i : i * k + l));
                        double y = ta.get(sb, ob + (transB ? j * k + l : l * n + j));
                        acc += x * y;
                    }
                    long at = oc + i * n + j;
                    if (sc != null) acc += tc.get(sc, at);          // cuBLASLt: epilogue(A·B + C + bias)
                    if (bv != null) acc += bv[(int) j];
                    acc = switch (epilogue) {
                        case RELU, RELU_BIAS -> Math.max(0, acc);
                        case GELU, GELU_BIAS -> 0.5 * acc * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (acc + 0.044715 * acc * acc * acc)));
                        default -> acc;
                    };
                    tc.put(sd, at, (float) acc);          // an fp32 result first, as cuBLASLt rounds it
                }
        }
    }
}
