package org.xrayscreening.trainer.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "evaluate", mixinStandardHelpOptions = true, description = "Evaluate models (TODO)")
public final class EvaluateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 1;
    }
}
