package hyperlab.train;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Training state on disk: weights, AdamW moments and step count, the sampler position, the step and
 * the NaN-guard counter. Layout: magic, fields, float32 tensors, then the sha256 of everything
 * before it, so a truncated or altered file is refused. Written to a temp file, fsynced, renamed;
 * the previous checkpoint is kept until the new one is complete.
 */
public final class Checkpoint {
    static final byte[] MAGIC = "HYPERLAB-CHECKPOINT-1\n".getBytes(StandardCharsets.US_ASCII);
    private static final int KEEP = 2;

    /** The scalar state stored beside the tensors. */
    public record State(int step, long samplerPosition, long adamSteps, int badInRow, String model, String data) {}

    /**
     * The optimiser state a checkpoint holds, as either engine keeps it: per named tensor the weights and the two
     * AdamW moments as float32 bytes in native order (the CPU engine's NDArrays, the GPU engine's device buffers).
     */
    public interface Slots {
        int count();

        String name(int i);

        long[] shape(int i);

        /** {@code which}: 0 weights, 1 first moment, 2 second moment. */
        byte[] read(int i, int which);

        void write(int i, int which, byte[] data);

        /** Updates taken so far (AdamW's bias-correction exponent). */
        long adamSteps();

        void restoreAdamSteps(long steps);
    }

    private Checkpoint() {}

    /** checkpoints/step-000123.ckpt under the run folder. */
    public static Path fileFor(Path out, int step) {
        return out.resolve("checkpoints").resolve(String.format(Locale.ROOT, "step-%07d.ckpt", step));
    }

    /** Writes atomically, then deletes all but the newest {@value #KEEP} checkpoints. */
    public static Path save(Path out, State s, Slots opt) {
        Path file = fileFor(out, s.step());
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                MessageDigest sha = sha256();
                OutputStream raw = Channels.newOutputStream(ch);
                BufferedOutputStream buffered = new BufferedOutputStream(raw, 1 << 16);
                DataOutputStream d = new DataOutputStream(new DigestOutputStream(buffered, sha));
                d.write(MAGIC);
                d.writeInt(s.step());
                d.writeLong(s.samplerPosition());
                d.writeLong(s.adamSteps());
                d.writeInt(s.badInRow());
                d.writeUTF(s.model());
                d.writeUTF(s.data());
                d.writeInt(opt.count());
                for (int i = 0; i < opt.count(); i++) {
                    d.writeUTF(opt.name(i));
                    long[] shape = opt.shape(i);
                    d.writeInt(shape.length);
                    for (long x : shape) d.writeLong(x);
                    for (int which = 0; which < 3; which++) d.write(opt.read(i, which));
                }
                d.flush();
                buffered.write(sha.digest());     // the trailer, not itself digested
                buffered.flush();
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            List<Path> all = list(out);
            for (int i = 0; i < all.size() - KEEP; i++) Files.deleteIfExists(all.get(i));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + file + ": " + e, e);
        }
    }

    /** The checkpoints of a run folder, oldest first. */
    public static List<Path> list(Path out) {
        Path dir = out.resolve("checkpoints");
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d+\\.ckpt")).sorted(Comparator.comparing(Path::toString)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + dir + ": " + e, e);
        }
    }

    /** Verifies the sha256, then restores weights and moments in place (names and shapes must match) and returns the state. */
    public static State load(Path file, Slots opt) {
        verify(file);
        try (DataInputStream d = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            d.readNBytes(MAGIC.length);
            State s = new State(d.readInt(), d.readLong(), d.readLong(), d.readInt(), d.readUTF(), d.readUTF());
            int n = d.readInt();
            if (n != opt.count())
                throw mismatch(file, "it holds " + n + " tensors, the model has " + opt.count());
            for (int i = 0; i < n; i++) {
                String name = d.readUTF();
                long[] shape = new long[d.readInt()];
                for (int k = 0; k < shape.length; k++) shape[k] = d.readLong();
                if (!name.equals(opt.name(i)) || !Arrays.equals(shape, opt.shape(i)))
                    throw mismatch(file, "tensor " + i + " is " + name + Arrays.toString(shape) + ", the model has "
                            + opt.name(i) + Arrays.toString(opt.shape(i)));
                long elements = Arrays.stream(shape).reduce(1, Math::multiplyExact);
                for (int which = 0; which < 3; which++) opt.write(i, which, d.readNBytes(Math.toIntExact(elements * 4)));
            }
            opt.restoreAdamSteps(s.adamSteps());
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint " + file + ": " + e, e);
        }
    }

    /** Refuses a file that is truncated, altered or not a checkpoint, naming it. */
    public static void verify(Path file) {
        try {
            long size = Files.size(file);
            if (size < MAGIC.length + 32)
                throw corrupt(file, "it has only " + size + " bytes");
            MessageDigest sha = sha256();
            byte[] stored = new byte[32];
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                byte[] head = in.readNBytes(MAGIC.length);
                if (!Arrays.equals(head, MAGIC)) throw corrupt(file, "it does not start with the HyperLab checkpoint header");
                sha.update(head);
                byte[] buf = new byte[1 << 16];
                long left = size - MAGIC.length - 32;
                while (left > 0) {
                    int r = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (r < 0) throw corrupt(file, "it ended early");
                    sha.update(buf, 0, r);
                    left -= r;
                }
                if (in.readNBytes(stored, 0, 32) != 32) throw corrupt(file, "it ended early");
            }
            if (!MessageDigest.isEqual(stored, sha.digest()))
                throw corrupt(file, "its sha256 does not match its contents (truncated or altered)");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint " + file + ": " + e, e);
        }
    }

    private static IllegalStateException corrupt(Path file, String why) {
        return new IllegalStateException("checkpoint " + file + " is unusable: " + why
                + ". Delete it to resume from an older checkpoint in the same folder, or start afresh with resume=false");
    }

    private static IllegalStateException mismatch(Path file, String why) {
        return new IllegalStateException("checkpoint " + file + " does not fit this model: " + why
                + ". Resume with the config the run started with, or choose another out folder");
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM lacks SHA-256", e);
        }
    }
}
