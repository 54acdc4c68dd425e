package hyperlab.kernel;

import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;

/** Hands a module compiled by the %%cuda magic to the JShell variable that names it (shared class loader). */
public final class CudaCells {
    private static final Map<String, Object> PENDING = new ConcurrentHashMap<>();

    private CudaCells() {
    }

    static void put(String name, Object module) {
        PENDING.put(name, module);
    }

    /** Called by the snippet the magic generates; each module is taken once. */
    public static Object take(String name) {
        return PENDING.remove(name);
    }
}
