package io.rocketkv.core.model;

/** Told after each weight tensor is bound to the backend (mapped on the CPU, uploaded on a GPU). */
@FunctionalInterface
public interface LoadProgress {

    LoadProgress NONE = (name, done, total) -> { };

    /**
     * @param tensor     the tensor just loaded
     * @param bytesDone  weight bytes loaded so far
     * @param bytesTotal weight bytes of the whole model
     */
    void loaded(String tensor, long bytesDone, long bytesTotal);
}
