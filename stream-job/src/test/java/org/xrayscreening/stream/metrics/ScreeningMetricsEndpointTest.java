package org.xrayscreening.stream.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The JVM-wide metrics endpoint: started once, kept when its starter is interrupted, and the port freed on stop. */
class ScreeningMetricsEndpointTest {

    @AfterEach
    void stop() {
        ScreeningMetrics.stopServing();
        Thread.interrupted(); // never leave the flag set for the next test
    }

    @Test
    void aCallerInterruptedWhileTheEndpointStartsLeavesItServingNotAPortBoundByNobody() throws Exception {
        int port = freePort();
        // a task cancelled during open(): Flink interrupts its thread
        Thread.currentThread().interrupt();
        try {
            ScreeningMetrics.serve("127.0.0.1", port);
        } catch (IllegalStateException interrupted) {
            assertThat(interrupted).hasMessageContaining("interrupted");
        }
        assertThat(Thread.interrupted()).as("the interrupt is kept for the caller").isTrue();

        // the next attempt in the same JVM (and classloader) finds the endpoint, it does not bind again
        ScreeningMetrics.serve("127.0.0.1", port);
        assertThat(ScreeningMetrics.servingPort()).isEqualTo(port);
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);

        // stopped (the classloader release hook), the port is free for the next job
        ScreeningMetrics.stopServing();
        assertThat(ScreeningMetrics.servingPort()).isEqualTo(-1);
        try (ServerSocket again = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThat(again.getLocalPort()).isEqualTo(port);
        }
    }

    @Test
    void aPortTakenBySomeoneElseIsAClearErrorAndALaterCallMayTryAgain() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> ScreeningMetrics.serve("127.0.0.1", taken.getLocalPort()))
                    .hasMessageContaining("cannot serve metrics on 127.0.0.1:" + taken.getLocalPort());
            assertThat(ScreeningMetrics.servingPort()).isEqualTo(-1);
        }
        int port = freePort();
        ScreeningMetrics.serve("127.0.0.1", port);
        assertThat(ScreeningMetrics.servingPort()).isEqualTo(port);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }
}
