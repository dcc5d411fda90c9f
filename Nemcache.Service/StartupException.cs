namespace Nemcache.Service;

/// <summary>A failure to start (a port in use, say). Its message is the one line printed before exiting.</summary>
public sealed class StartupException(string message) : Exception(message);
