package hyperlab.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import hyperlab.cuda.Cuda;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Round trips through device memory (a GPU, else the CPU emulator), checked value by value against the source arrays. */
class CopiesTest {
    private static Gpu device() {
        if (Cuda.isAvailable()) return Cuda.gpu();
        assumeTrue(Cuda.emulatorUnavailableReason().isEmpty(), () -> "no GPU and no emulator: " + Cuda.emulatorUnavailableReason().get());
        return Cuda.emulator();
    }

    @Test
    void djlArraysRoundTripExactlyInEveryCommonType() {
        Random r = new Random(5);
        float[] f = new float[24];
        double[] d = new double[24];
        int[] i = new int[24];
        for (int k = 0; k < 24; k++) { f[k] = (float) r.nextGaussian(); d[k] = r.nextGaussian(); i[k] = r.nextInt(); }
        try (NDManager m = NDManager.newBaseManager(); DeviceArena arena = device().arena()) {
            NDArray af = m.create(f, new Shape(2, 3, 4)), ad = m.create(d, new Shape(4, 6)), ai = m.create(i, new Shape(24));
            DeviceTensor tf = NdArrayCopies.toDevice(af, arena);
            assertEquals(DType.F32, tf.dtype());
            assertArrayEquals(new long[] {2, 3, 4}, tf.shape());
            assertArrayEquals(f, tf.toFloatArray(), "device holds the source values");
            assertArrayEquals(f, NdArrayCopies.toNDArray(tf, m).toFloatArray());
            assertEquals(new Shape(2, 3, 4), NdArrayCopies.toNDArray(tf, m).getShape());
            DeviceTensor td = NdArrayCopies.toDevice(ad, arena);
            assertArrayEquals(d, td.toDoubleArray());
            NDArray backD = NdArrayCopies.toNDArray(td, m);
            assertEquals(DataType.FLOAT64, backD.getDataType());
            assertArrayEquals(d, backD.toDoubleArray());
            assertArrayEquals(i, NdArrayCopies.toNDArray(NdArrayCopies.toDevice(ai, arena), m).toIntArray());
            float[] transposed = new float[24];   // (4, 6)ᵀ = (6, 4): element [j][k] = f[k * 6 + j]
            for (int j = 0; j < 6; j++) for (int k = 0; k < 4; k++) transposed[j * 4 + k] = f[k * 6 + j];
            assertArrayEquals(transposed, NdArrayCopies.toDevice(m.create(f, new Shape(4, 6)).transpose(), arena).toFloatArray(),
                    "a transposed view is copied in its logical row-major order");
            assertThrows(IllegalArgumentException.class, () -> NdArrayCopies.dtypeOf(DataType.BOOLEAN));
        }
    }

    @Test
    void nd4jArraysRoundTripExactly() {
        double[][] h = {{0.7, 0.1, 0.2}, {0.2, 0.6, 0.2}, {0.1, 0.3, 0.6}};
        try (DeviceArena arena = device().arena()) {
            INDArray a = Nd4j.create(h);
            DeviceTensor t = Nd4jCopies.toDevice(a, arena);
            assertEquals(DType.F64, t.dtype());
            assertArrayEquals(new double[] {0.7, 0.1, 0.2, 0.2, 0.6, 0.2, 0.1, 0.3, 0.6}, t.toDoubleArray(), 0);
            INDArray back = Nd4jCopies.toINDArray(t);
            assertArrayEquals(new long[] {3, 3}, back.shape());
            for (int r = 0; r < 3; r++) assertArrayEquals(h[r], back.getRow(r).toDoubleVector(), 0);
            INDArray transposed = a.transpose();   // a view in another order: values follow the logical layout
            assertEquals(0.2, Nd4jCopies.toDevice(transposed, arena).toDoubleArray()[1], 0);
            assertArrayEquals(new int[] {3, 1, 4}, Nd4jCopies.toDevice(Nd4j.createFromArray(3, 1, 4), arena).toIntArray());
        }
    }
}
