package hyperlab.kernel;

import java.util.Map;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/** Hands JShell our {@link KernelExecutionControl} instead of its default remote (JDI) engine. */
final class KernelExecutionProvider implements ExecutionControlProvider {

    @Override
    public String name() {
        return "hyperlab-local";
    }

    @Override
    public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
        return new KernelExecutionControl();
    }
}
