package hyperlab.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/** Compiled cubins on disk, keyed by everything that changes NVRTC's output, so a notebook re-run skips compilation. */
record CubinCache(Path dir) {
    /** {@code $HYPERLAB_CUDA_CACHE}, else {@code ~/.cache/hyperlab/cuda}. */
    static CubinCache standard() {
        String env = System.getenv("HYPERLAB_CUDA_CACHE");
        Path dir = env != null && !env.isBlank() ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache", "hyperlab", "cuda");
        return new CubinCache(dir);
    }

    /** sha256 over source, program name, options, target architecture and NVRTC version, each field length-prefixed. */
    static String key(String source, String programName, List<String> options, String arch, String nvrtcVersion) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String field : List.of(source, programName, String.join("\u0000", options), arch, nvrtcVersion)) {
                byte[] b = field.getBytes(StandardCharsets.UTF_8);
                md.update(Integer.toString(b.length).getBytes(StandardCharsets.US_ASCII));
                md.update((byte) ':');
                md.update(b);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Optional<byte[]> get(String key) {
        Path p = dir.resolve(key + ".cubin");
        try {
            return Files.isRegularFile(p) ? Optional.of(Files.readAllBytes(p)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty(); // an unreadable entry is a miss, not a failure
        }
    }

    /** Writes atomically (temp file, then rename) so concurrent JVMs never read half a cubin. */
    void put(String key, byte[] cubin) {
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, key, ".tmp");
            Files.write(tmp, cubin);
            try {
                Files.move(tmp, dir.resolve(key + ".cubin"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, dir.resolve(key + ".cubin"), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the CUDA kernel cache at " + dir + " (set HYPERLAB_CUDA_CACHE)", e);
        }
    }
}
