package org.xrayscreening.connectors.kafka;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SslAuthenticationException;

/**
 * Connects once, before a job or a command starts its real work, so that wrong credentials, a trust store that
 * does not know the broker's certificate or a client whose {@code security.protocol} does not match the listener
 * end the command at once with a message that says which, instead of a Flink job that restarts forever or a
 * consumer that polls nothing. The message never repeats a password (it names the SASL mechanism and the
 * {@code --kafka-properties} settings to check).
 */
public final class KafkaConnectionCheck {

    /** Long enough for a TLS + SCRAM handshake with a busy broker; short enough not to look like a hang. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private KafkaConnectionCheck() {
    }

    /** The check failed; the message says what to fix. */
    public static final class KafkaConnectionException extends RuntimeException {
        KafkaConnectionException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Asks the cluster for its id with the given client settings.
     *
     * @param clientSettings the merged {@code --kafka-properties} (may be empty)
     * @throws KafkaConnectionException within about {@code timeout} when the cluster cannot be used
     */
    public static void verify(String bootstrapServers, Map<String, String> clientSettings, Duration timeout) {
        Properties p = new Properties();
        p.putAll(clientSettings);
        p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        p.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Integer.toString(millis));
        p.setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Integer.toString(millis));
        String protocol = clientSettings.getOrDefault(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "PLAINTEXT");
        String where = "Kafka at " + bootstrapServers + " (security.protocol " + protocol
                + (clientSettings.containsKey("sasl.mechanism") ? ", sasl.mechanism " + clientSettings.get("sasl.mechanism") : "")
                + ")";
        try (Admin admin = Admin.create(p)) {
            admin.describeCluster().clusterId().get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw explain(where, e.getCause(), timeout);
        } catch (TimeoutException e) {
            throw explain(where, e, timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaConnectionException("interrupted while connecting to " + where, e);
        } catch (org.apache.kafka.common.KafkaException e) {
            // a client that cannot even be built: unreadable trust store, malformed JAAS line, unknown mechanism
            throw new KafkaConnectionException("cannot create a Kafka client for " + where + ": "
                    + rootMessage(e) + " (check --kafka-properties)", e);
        }
    }

    private static KafkaConnectionException explain(String where, Throwable cause, Duration timeout) {
        if (cause instanceof SslAuthenticationException) {
            return new KafkaConnectionException("TLS handshake with " + where + " failed: " + rootMessage(cause)
                    + " (check ssl.truststore.location: it must hold the CA that signed the broker's certificate)", cause);
        }
        if (cause instanceof AuthenticationException) {
            return new KafkaConnectionException(where + " refused the credentials: " + cause.getMessage()
                    + " (check the user name and password in sasl.jaas.config)", cause);
        }
        if (cause instanceof AuthorizationException) {
            return new KafkaConnectionException(where + " accepted the credentials but does not allow this user to "
                    + "describe the cluster: " + cause.getMessage(), cause);
        }
        if (cause instanceof TimeoutException || cause instanceof org.apache.kafka.common.errors.TimeoutException) {
            return new KafkaConnectionException("no answer from " + where + " within " + timeout.toSeconds()
                    + " s: the address is wrong or unreachable, or security.protocol does not match the listener"
                    + " (e.g. PLAINTEXT against a SASL_SSL port)", cause);
        }
        return new KafkaConnectionException("cannot use " + where + ": " + rootMessage(cause), cause);
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        return root == t ? String.valueOf(m) : t.getMessage() + "; cause: " + m;
    }
}
