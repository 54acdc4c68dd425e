package hyperlab.kernel;

import java.util.Arrays;
import jdk.jshell.execution.LocalExecutionControl;

/**
 * JShell's in-process execution plus {@link SnippetWeaver}: snippets run in the kernel's JVM so
 * values stay real objects, and JShell's own stop-checks still let {@code jshell.stop()} end loops.
 */
final class KernelExecutionControl extends LocalExecutionControl {

    @Override
    public void load(ClassBytecodes[] cbcs)
            throws ClassInstallException, NotImplementedException, EngineTerminationException {
        super.load(Arrays.stream(cbcs)
                .map(c -> new ClassBytecodes(c.name(), SnippetWeaver.weave(c.bytecodes())))
                .toArray(ClassBytecodes[]::new));
    }
}
