lock "~> 3.17"

set :application, "releases-example"
set :repo_url, ENV.fetch("CAP_REPO")
set :branch, ENV.fetch("CAP_BRANCH", "main")
set :deploy_to, ENV.fetch("CAP_DEPLOY_TO")
set :keep_releases, 3
set :log_level, :warn
set :format, :airbrussh
set :format_options, command_output: false, log_file: nil
# Like shipit: the deploy user, one key, host keys checked against the harness's known_hosts.
set :ssh_options, {
  user: ENV.fetch("CAP_USER", "deploy"),
  keys: [ENV.fetch("CAP_KEY")],
  keys_only: true,
  auth_methods: %w[publickey],
  user_known_hosts_file: ENV.fetch("CAP_KNOWN_HOSTS"),
  global_known_hosts_file: "/dev/null",
  verify_host_key: :always,
  use_agent: false,
  config: false,
}
