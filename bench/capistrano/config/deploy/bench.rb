# Hosts from the environment (bench/bench.py sets CAP_HOSTS to the same hosts shipit deploys to).
ENV.fetch("CAP_HOSTS").split(",").each do |host|
  server host, roles: %w[app], user: ENV.fetch("CAP_USER", "deploy")
end
