package hyperlab.kernel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Resolves Maven coordinates with their runtime dependencies by running the user's own {@code mvn}
 * on a generated pom: it honours the user's settings.xml, mirrors and local repository.
 */
final class MavenResolver {

    /** Pinned so that resolution does not first download another plugin version. */
    static final String DEPENDENCY_PLUGIN = "3.8.1";
    private static final long TIMEOUT_MINUTES = 10;

    private MavenResolver() {
    }

    /** Returns the jars of {@code coordinates} (group:artifact:version[:classifier]) and their dependencies. */
    static List<Path> resolve(List<String> coordinates) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("hyperlab-maven-");
        Path jars = dir.resolve("jars");
        Files.writeString(dir.resolve("pom.xml"), pom(coordinates), StandardCharsets.UTF_8);
        Path log = dir.resolve("mvn.log");
        ProcessBuilder pb = new ProcessBuilder(mvn(), "-B", "-q", "-ntp", "-f", dir.resolve("pom.xml").toString(),
                "org.apache.maven.plugins:maven-dependency-plugin:" + DEPENDENCY_PLUGIN + ":copy-dependencies",
                "-DincludeScope=runtime", "-DoutputDirectory=" + jars)
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("mvn did not finish within " + TIMEOUT_MINUTES + " minutes; log: " + log);
        }
        if (p.exitValue() != 0) {
            throw new IOException("mvn could not resolve " + coordinates + " (exit " + p.exitValue() + "):\n"
                    + tail(Files.readString(log)));
        }
        try (Stream<Path> files = Files.list(jars)) {
            return files.filter(f -> f.toString().endsWith(".jar")).sorted().toList();
        }
    }

    static String pom(List<String> coordinates) {
        StringBuilder deps = new StringBuilder();
        for (String c : coordinates) {
            String[] p = c.split(":");
            if (p.length < 3 || p.length > 4) {
                throw new IllegalArgumentException("not Maven coordinates (group:artifact:version[:classifier]): " + c);
            }
            deps.append("<dependency><groupId>").append(p[0]).append("</groupId><artifactId>").append(p[1])
                    .append("</artifactId><version>").append(p[2]).append("</version>");
            if (p.length == 4) {
                deps.append("<classifier>").append(p[3]).append("</classifier>");
            }
            deps.append("</dependency>");
        }
        return "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>"
                + "<groupId>hyperlab.kernel</groupId><artifactId>maven-magic</artifactId><version>0</version>"
                + "<packaging>pom</packaging><dependencies>" + deps + "</dependencies></project>";
    }

    private static String mvn() {
        String home = System.getenv("MAVEN_HOME");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "mvn"))) {
            return Path.of(home, "bin", "mvn").toString();
        }
        return "mvn";
    }

    private static String tail(String log) {
        List<String> lines = new ArrayList<>(log.lines().toList());
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }
}
