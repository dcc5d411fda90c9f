// Scaffold only: the host, configuration and TCP server land in the next commits of issue 2.
return 0;
