/**
 * A runnable backend service that joins a Switchboard cluster without being a node, answers clients'
 * {@code request}s and pushes to users with the Java helper: start with
 * {@code java -cp target/switchboard.jar dev.switchboard.examples.ExampleBackend} (see README).
 */
package dev.switchboard.examples;
