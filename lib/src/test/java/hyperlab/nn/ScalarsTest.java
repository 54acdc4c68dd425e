package hyperlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import hyperlab.train.Loss;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScalarsTest {
    @Test
    void productsAndQuotientsMatchFloat64() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new double[] {1.5, -2.25, 1e-3});
            assertArrayEquals(new double[] {1.5 * 0.7, -2.25 * 0.7, 1e-3 * 0.7}, Scalars.mul(x, 0.7).toDoubleArray(), 0);
            assertArrayEquals(new double[] {1.5 / 3, -2.25 / 3, 1e-3 / 3}, Scalars.div(x, 3).toDoubleArray(), 0);
            assertEquals(DataType.FLOAT32, Scalars.mul(x.toType(DataType.FLOAT32, false), 0.7).getDataType(), "keeps x's type");
        }
    }

    /**
     * The bug this class exists for: with DJL's mul(Number)/div(Number) in the forward pass, a GC between
     * forward and backward freed the constants autograd kept, and every gradient below the last layer
     * came out NaN (seen in CI). With a thread forcing collections all through, the gradients must equal
     * those computed without it.
     */
    @Test
    void gradientsSurviveGarbageCollectionsBetweenForwardAndBackward() throws Exception {
        for (Paradigm p : new Paradigm[] {Paradigm.RC, Paradigm.MHC}) {
            try (NDManager m = NDManager.newBaseManager()) {
                Gpt model = Gpt.create(GptConfig.preset("tiny").context(8).paradigm(p)).init(m);
                NDArray x = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}).reshape(2, 6);
                NDArray y = m.create(new int[] {1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9}).reshape(2, 6);
                List<float[]> quiet = gradients(model, x, y);
                Thread gc = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        System.gc();
                        try { Thread.sleep(2); } catch (InterruptedException e) { return; }
                    }
                });
                gc.setDaemon(true);
                gc.start();
                try {
                    for (int round = 0; round < 3; round++) {
                        List<float[]> noisy = gradients(model, x, y);
                        for (int i = 0; i < quiet.size(); i++)
                            assertArrayEquals(quiet.get(i), noisy.get(i), 1e-6f, p + " round " + round + ", parameter " + i);
                    }
                } finally {
                    gc.interrupt();
                    gc.join();
                }
            }
        }
    }

    /** Every parameter's gradient of the cross-entropy on (x, y), copied out; the gradients are zeroed first. */
    private static List<float[]> gradients(Gpt model, NDArray x, NDArray y) throws InterruptedException {
        for (var e : model.getParameters()) e.getValue().getArray().getGradient().set(new NDIndex("..."), 0);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray loss = Loss.crossEntropy(model.forward(new ParameterStore(x.getManager(), false), new NDList(x), true).singletonOrThrow(), y);
            System.gc();
            Thread.sleep(20);
            gc.backward(loss);
        }
        List<float[]> out = new ArrayList<>();
        for (var e : model.getParameters()) out.add(e.getValue().getArray().getGradient().toFloatArray());
        return out;
    }
}
