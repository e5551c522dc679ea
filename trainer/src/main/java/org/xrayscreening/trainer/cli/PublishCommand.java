package org.xrayscreening.trainer.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.xrayscreening.trainer.publish.Publisher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code publish}: a finished run folder becomes an immutable registry version. */
@Command(name = "publish", mixinStandardHelpOptions = true,
        description = "Publish a finished run's final weights to the model registry.")
public final class PublishCommand implements Callable<Integer> {
    @Option(names = "--run", required = true, description = "run folder")
    Path run;

    @Option(names = "--registry", required = true, description = "model registry folder")
    Path registry;

    @Option(names = "--model-version", description = "version name (default: timestamp + content hash)")
    String version;

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "decision threshold reaches this sensitivity on validation (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Override
    public Integer call() throws Exception {
        var v = Publisher.publish(run, registry, version, targetSensitivity);
        System.out.println("published " + v + " (threshold " + v.metadata().decisionThreshold() + ") to " + registry);
        return 0;
    }
}
