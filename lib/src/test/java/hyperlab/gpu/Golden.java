package hyperlab.gpu;

import hyperlab.nn.GptConfig;
import hyperlab.nn.MapInit;
import hyperlab.nn.Paradigm;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One first-step golden case made by the DJL CPU engine for the GPU engine to match: the config, the weights, a
 * batch, and the loss, logits and gradients DJL computed for it in float32 and, from the same weights, in float64.
 */
record Golden(GptConfig config, int batch, int time, Map<String, float[]> params, Map<String, float[]> grads,
              Map<String, double[]> grads64, int[] ids, int[] targets, double loss, double loss64, float[] logits) {
    private static final String MAGIC = "HYPERLAB-GOLDEN-2";

    void write(Path file) {
        try (DataOutputStream d = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16))) {
            d.writeUTF(MAGIC);
            GptConfig c = config;
            d.writeUTF(c.paradigm().name());
            for (int v : new int[] {c.vocab(), c.context(), c.layers(), c.width(), c.heads(), c.streams(), c.sinkhornIterations(), batch, time})
                d.writeInt(v);
            d.writeBoolean(c.dynamic());
            d.writeBoolean(c.sinkhornLogDomain());
            d.writeUTF(c.init().name());
            d.writeLong(c.seed());
            d.writeInt(params.size());
            for (var e : params.entrySet()) {
                d.writeUTF(e.getKey());
                floats(d, e.getValue());
                floats(d, grads.get(e.getKey()));
                doubles(d, grads64.get(e.getKey()));
            }
            ints(d, ids);
            ints(d, targets);
            d.writeDouble(loss);
            d.writeDouble(loss64);
            floats(d, logits);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Golden read(Path file) {
        try (DataInputStream d = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            if (!MAGIC.equals(d.readUTF())) throw new IllegalArgumentException(file + " is not a golden file");
            Paradigm p = Paradigm.valueOf(d.readUTF());
            int[] v = new int[9];
            for (int i = 0; i < v.length; i++) v[i] = d.readInt();
            boolean dynamic = d.readBoolean(), log = d.readBoolean();
            MapInit init = MapInit.valueOf(d.readUTF());
            long seed = d.readLong();
            GptConfig cfg = new GptConfig(v[0], v[1], v[2], v[3], v[4], p, v[5], dynamic, v[6], log, init, seed);
            int count = d.readInt();
            Map<String, float[]> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
            Map<String, double[]> grads64 = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                String name = d.readUTF();
                params.put(name, floats(d));
                grads.put(name, floats(d));
                grads64.put(name, doubles(d));
            }
            int[] ids = ints(d), targets = ints(d);
            double loss = d.readDouble(), loss64 = d.readDouble();
            return new Golden(cfg, v[7], v[8], params, grads, grads64, ids, targets, loss, loss64, floats(d));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void floats(DataOutputStream d, float[] x) throws IOException {
        d.writeInt(x.length);
        for (float f : x) d.writeFloat(f);
    }

    private static float[] floats(DataInputStream d) throws IOException {
        float[] x = new float[d.readInt()];
        for (int i = 0; i < x.length; i++) x[i] = d.readFloat();
        return x;
    }

    private static void doubles(DataOutputStream d, double[] x) throws IOException {
        d.writeInt(x.length);
        for (double f : x) d.writeDouble(f);
    }

    private static double[] doubles(DataInputStream d) throws IOException {
        double[] x = new double[d.readInt()];
        for (int i = 0; i < x.length; i++) x[i] = d.readDouble();
        return x;
    }

    private static void ints(DataOutputStream d, int[] x) throws IOException {
        d.writeInt(x.length);
        for (int f : x) d.writeInt(f);
    }

    private static int[] ints(DataInputStream d) throws IOException {
        int[] x = new int[d.readInt()];
        for (int i = 0; i < x.length; i++) x[i] = d.readInt();
        return x;
    }
}
