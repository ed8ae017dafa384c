package io.rocketkv.api;

/**
 * A model named by path or Hugging Face id that is not on this machine ({@link HuggingFaceModels}). The
 * message lists every place looked in and how to get the model there.
 */
public class ModelNotFoundException extends IllegalArgumentException {

    public ModelNotFoundException(String message) {
        super(message);
    }
}
