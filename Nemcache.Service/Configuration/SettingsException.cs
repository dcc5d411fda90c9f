namespace Nemcache.Service.Configuration;

/// <summary>An invalid setting. Its message is the one line printed before exiting with code 2.</summary>
public sealed class SettingsException(string message) : Exception(message);
