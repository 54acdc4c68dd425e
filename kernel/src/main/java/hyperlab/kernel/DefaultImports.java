package hyperlab.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * The imports every session starts with. Import-on-demand of a package that is not on the class
 * path is a JShell error, so each package is included only when one of its classes can be found.
 */
final class DefaultImports {

    /** Packages paired with a class that proves the package is present. */
    private static final String[][] PACKAGES = {
        {"java.util", "java.util.List"},
        {"java.util.stream", "java.util.stream.Stream"},
        {"ai.djl.ndarray", "ai.djl.ndarray.NDManager"},
        {"tech.tablesaw.api", "tech.tablesaw.api.Table"},
        {"org.knowm.xchart", "org.knowm.xchart.XYChart"},
    };

    /** HyperLab's own packages; present once the lib defines at least one class in them. */
    private static final String[] HYPERLAB = {
        "hyperlab.manifold", "hyperlab.nn", "hyperlab.data", "hyperlab.train", "hyperlab.diag", "hyperlab.plot",
    };

    private DefaultImports() {
    }

    static List<String> resolve(ClassLoader loader) {
        List<String> imports = new ArrayList<>();
        for (String[] p : PACKAGES) {
            if (classExists(loader, p[1])) {
                imports.add("import " + p[0] + ".*;");
            }
        }
        for (String pkg : HYPERLAB) {
            if (packageHasClasses(loader, pkg)) {
                imports.add("import " + pkg + ".*;");
            }
        }
        imports.add("import static " + Display.class.getName() + ".*;");
        return imports;
    }

    private static boolean classExists(ClassLoader loader, String name) {
        try {
            Class.forName(name, false, loader);
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static boolean packageHasClasses(ClassLoader loader, String pkg) {
        return loader.getResource(pkg.replace('.', '/')) != null;
    }
}
