// Times Jelly Bean World's own C++ core (the reference implementation, spec §0) the way
// `beanworld bench` times ours, so that scripts/jbw-compare.sh can put the two side by side.
//
//   jbw-bench --world v0|paper --policy walk|turn [--agents N] [--steps N] [--seed S]
//
// Prints one JSON line:
//   {"case":"walk","world":"v0","agents":1,"steps":…,"agent_steps_per_sec":…,"first_step_s":…,
//    "fixed_patches":…,"items_per_cell":{…}}
//
// As in `beanworld bench`: `first_step_s` runs from making the simulator through adding (and
// placing) the agents and their first step; `agent_steps_per_sec` counts the remaining
// `steps - 1` steps, every agent acting in each. Each agent draws its own action: `walk` moves
// forward 80% of the time and turns left or right 10% each, `turn` turns left or right half the
// time each (sim/engine/src/policy.rs). The world and policies are seeded, so a run repeats.
//
// JBW's synchronous in-process API is used (simulator<…>::add_agent, move, turn; a step runs
// inside the call of the last agent to act); no server, no MPI, nothing is written to disk.
// `items_per_cell` is a sanity check, not timed: items per cell of each type in the patches JBW
// fixed (live items plus collected ones not yet purged), to compare with spec §12.3.
//
// The JBW sources are not part of this repository; scripts/jbw-compare.sh says where they come
// from and how this file is built against them.

#include <jbw/simulator.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace jbw;

// The simulator carries a user data type and calls `on_step` after every step; we need neither.
struct bench_data { };
inline void on_step(simulator<bench_data>*, const hash_map<uint64_t, agent_state*>&, uint64_t) { }

// One interaction function of an item type: which function and its arguments.
struct interaction {
	interaction_function fn;
	std::vector<float> args;
};

// An item type as the spec's tables give it (§8.2, §8.3).
struct item_spec {
	const char* name;
	float scent[3], color[3];
	std::vector<unsigned int> required; // required_item_counts, one per item type
	bool blocks;
	float occlusion;
	float intensity;                    // CONSTANT intensity
	std::vector<interaction> interactions; // one per item type, in order
};

static const interaction ZERO = {zero_interaction_fn, {}};
static interaction box(float l1, float l2, float c1, float c2) { return {piecewise_box_interaction_fn, {l1, l2, c1, c2}}; }
static interaction cross(float d1, float d2, float a1, float a2, float b1, float b2) {
	return {cross_interaction_fn, {d1, d2, a1, a2, b1, b2}};
}

// Gym `JBW-v0`, i.e. Python make_config() (spec §8.2): 4 item types, n = 32, 4000 iterations, R = 5.
static std::vector<item_spec> v0_items() {
	return {
		{"banana", {0, 1, 0}, {0, 1, 0}, {1, 0, 0, 0}, false, 0, -5.3f,
			{box(10, 200, 0, -6), box(200, 0, -6, -6), box(10, 200, 2, -100), ZERO}},
		{"onion", {1, 0, 0}, {1, 0, 0}, {0, 1, 0, 0}, false, 0, -5.0f,
			{box(200, 0, -6, -6), ZERO, box(200, 0, -100, -100), ZERO}},
		{"jellybean", {0, 0, 1}, {0, 0, 1}, {0, 0, 0, 0}, false, 0, -5.3f,
			{box(10, 200, 2, -100), box(200, 0, -100, -100), box(10, 200, 0, -6), ZERO}},
		{"wall", {0, 0, 0}, {0.5f, 0.5f, 0.5f}, {0, 0, 0, 1}, true, 0, 0.0f,
			{ZERO, ZERO, ZERO, cross(10, 15, 20, -200, -20, 1)}},
	};
}

// The paper's world (Swift simulatorConfiguration, spec §8.3): 6 item types, n = 64, 10000
// iterations, R = 8, occlusion on.
static std::vector<item_spec> paper_items() {
	return {
		{"banana", {1.92f, 1.76f, 0.40f}, {0.96f, 0.88f, 0.20f}, {0, 0, 0, 0, 0, 0}, false, 0, 1.5f,
			{box(10, 100, 0, -6), ZERO, box(10, 100, 2, -100), ZERO, box(50, 100, -100, -100), ZERO}},
		{"onion", {0.68f, 0.01f, 0.99f}, {0.68f, 0.01f, 0.99f}, {0, 0, 0, 0, 0, 0}, false, 0, -3.0f,
			{ZERO, ZERO, ZERO, ZERO, ZERO, ZERO}},
		{"jellybean", {1.64f, 0.54f, 0.40f}, {0.82f, 0.27f, 0.20f}, {0, 0, 0, 0, 0, 0}, false, 0, 1.5f,
			{box(10, 100, 2, -100), ZERO, box(10, 100, 0, -6), ZERO, box(50, 100, -100, -100), ZERO}},
		{"wall", {0, 0, 0}, {0.20f, 0.47f, 0.67f}, {0, 0, 0, 1, 0, 0}, true, 1.0f, -12.0f,
			{ZERO, ZERO, ZERO, cross(20, 40, 8, -1000, -1000, -1), ZERO, ZERO}},
		{"tree", {0.00f, 0.47f, 0.06f}, {0.00f, 0.47f, 0.06f}, {0, 0, 0, 0, 1, 0}, false, 0.1f, 2.0f,
			{ZERO, ZERO, ZERO, ZERO, box(100, 500, 0, -0.1f), ZERO}},
		{"truffle", {8.40f, 4.80f, 2.60f}, {0.42f, 0.24f, 0.13f}, {0, 0, 0, 0, 0, 0}, false, 0, 0.0f,
			{ZERO, ZERO, ZERO, ZERO, box(4, 200, 2, 0), box(30, 1000, -0.3f, -1)}},
	};
}

// Fills `config` for a world: the settings both worlds share (forward moves, left/right turns, no
// no-op, first come first served, λ = 0.4, α = 0.14, L = 2000, 360° field of view) and the rest.
static void make_config(simulator_config& config, const std::string& world) {
	bool paper = (world == "paper");
	std::vector<item_spec> items = paper ? paper_items() : v0_items();
	config.max_steps_per_movement = 1;
	config.scent_dimension = 3;
	config.color_dimension = 3;
	config.vision_range = paper ? 8 : 5;
	config.agent_field_of_view = 2 * M_PI;
	config.allowed_movement_directions[(size_t) direction::UP] = action_policy::ALLOWED;
	config.allowed_movement_directions[(size_t) direction::DOWN] = action_policy::DISALLOWED;
	config.allowed_movement_directions[(size_t) direction::LEFT] = action_policy::DISALLOWED;
	config.allowed_movement_directions[(size_t) direction::RIGHT] = action_policy::DISALLOWED;
	config.allowed_rotations[(size_t) direction::UP] = action_policy::DISALLOWED;
	config.allowed_rotations[(size_t) direction::DOWN] = action_policy::DISALLOWED;
	config.allowed_rotations[(size_t) direction::LEFT] = action_policy::ALLOWED;
	config.allowed_rotations[(size_t) direction::RIGHT] = action_policy::ALLOWED;
	config.no_op_allowed = false;
	config.patch_size = paper ? 64 : 32;
	config.mcmc_iterations = paper ? 10000 : 4000;
	config.agent_color = (float*) calloc(3, sizeof(float));
	if (!paper) config.agent_color[2] = 1.0f; // v0 agents are drawn [0,0,1]; the paper's black
	config.collision_policy = movement_conflict_policy::FIRST_COME_FIRST_SERVED;
	config.decay_param = 0.4f;
	config.diffusion_param = 0.14f;
	config.deleted_item_lifetime = 2000;

	unsigned int k = (unsigned int) items.size();
	config.item_types.ensure_capacity(k);
	std::vector<unsigned int> no_costs(k, 0);
	for (unsigned int i = 0; i < k; i++) {
		const item_spec& s = items[i];
		float intensity_args[1] = {s.intensity};
		energy_function<intensity_function> intensity = {constant_intensity_fn, intensity_args, 1};
		std::vector<energy_function<interaction_function>> fns(k);
		for (unsigned int j = 0; j < k; j++)
			fns[j] = {s.interactions[j].fn, (float*) s.interactions[j].args.data(), (unsigned int) s.interactions[j].args.size()};
		if (!init(config.item_types[i], s.name, (unsigned int) strlen(s.name), s.scent, s.color,
				s.required.data(), no_costs.data(), s.blocks, s.occlusion, intensity, fns.data(), 3, 3, k)) {
			fprintf(stderr, "jbw-bench: cannot make item type %s\n", s.name);
			exit(EXIT_FAILURE);
		}
	}
	config.item_types.length = k;
}

// The cells within Chebyshev distance `spread` of the origin, ring by ring outwards, each ring in
// row-major order from its bottom-left corner: the order in which `beanworld bench` places
// agents (sim/engine/src/placement.rs).
static std::vector<position> ring_order(int64_t spread) {
	std::vector<position> cells;
	for (int64_t r = 0; r <= spread; r++)
		for (int64_t dy = -r; dy <= r; dy++)
			for (int64_t dx = -r; dx <= r; dx += (dy == -r || dy == r || r == 0) ? 1 : 2 * r)
				cells.push_back(position(dx, dy));
	return cells;
}

// Whether `cell` holds a live item that blocks movement (fixing its block, as a step would).
static bool blocked(simulator<bench_data>& sim, position cell) {
	patch<patch_data>* neighborhood[4]; position patch_positions[4];
	unsigned int index = sim.get_world().get_fixed_neighborhood(cell, neighborhood, patch_positions);
	for (const item& it : neighborhood[index]->items)
		if (it.location == cell && it.deletion_time == 0 && sim.get_config().item_types[it.item_type].blocks_movement)
			return true;
	return false;
}

// JBW can only add an agent at the origin (spec §6.8, §11 #4). To place several agents as our
// bench does, each agent is added there and then moved to its cell, exactly as a step moves an
// agent between patches (simulator.h, step()): off the old patch's agent list, onto the new one.
static void relocate(simulator<bench_data>& sim, agent_state* agent, position to) {
	auto& world = sim.get_world();
	patch<patch_data>* neighborhood[4]; position patch_positions[4];
	unsigned int from = world.get_fixed_neighborhood(agent->current_position, neighborhood, patch_positions);
	array<agent_state*>& old_agents = neighborhood[from]->data.agents;
	old_agents.remove(old_agents.index_of(agent));
	unsigned int index = world.get_fixed_neighborhood(to, neighborhood, patch_positions);
	neighborhood[index]->data.agents.add(agent);
	agent->current_position = to;
	agent->requested_position = to;
}

int main(int argc, const char** argv) {
	std::string world = "v0", policy = "walk";
	unsigned int agent_count = 1;
	uint64_t steps = 1000;
	uint_fast32_t seed = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		std::string flag = argv[i], value = argv[i + 1];
		if (flag == "--world") world = value;
		else if (flag == "--policy") policy = value;
		else if (flag == "--agents") agent_count = (unsigned int) std::stoul(value);
		else if (flag == "--steps") steps = std::stoull(value);
		else if (flag == "--seed") seed = (uint_fast32_t) std::stoul(value);
		else { fprintf(stderr, "jbw-bench: unknown flag %s\n", flag.c_str()); return EXIT_FAILURE; }
	}
	if ((world != "v0" && world != "paper") || (policy != "walk" && policy != "turn") || agent_count == 0 || steps < 2) {
		fprintf(stderr, "usage: jbw-bench --world v0|paper --policy walk|turn [--agents N] [--steps N>=2] [--seed S]\n");
		return EXIT_FAILURE;
	}

	simulator_config config;
	make_config(config, world);

	// Each agent's policy has its own seeded stream.
	std::vector<std::minstd_rand> rngs;
	for (unsigned int i = 0; i < agent_count; i++)
		rngs.emplace_back((uint_fast32_t) (seed * 1000003u + i + 1));
	auto act = [&](simulator<bench_data>& sim, uint64_t id, std::minstd_rand& rng) {
		status result;
		if (policy == "walk") {
			unsigned int r = rng() % 10;
			if (r < 8) result = sim.move(id, direction::UP, 1);
			else result = sim.turn(id, (r == 8) ? direction::LEFT : direction::RIGHT);
		} else {
			result = sim.turn(id, (rng() % 2 == 0) ? direction::LEFT : direction::RIGHT);
		}
		if (result != status::OK) {
			fprintf(stderr, "jbw-bench: action failed (status %d)\n", (int) result);
			exit(EXIT_FAILURE);
		}
	};

	typedef std::chrono::steady_clock clock;
	auto started = clock::now();
	simulator<bench_data>* sim = new simulator<bench_data>(config, bench_data(), seed);

	// Add the agents: the first one generates the world around the origin; the others are placed
	// on the nearest free cells (no other agent, no blocking item), ring by ring, as ours are.
	std::vector<uint64_t> ids(agent_count);
	std::vector<agent_state*> states(agent_count);
	if (sim->add_agent(ids[0], states[0]) != status::OK) { fprintf(stderr, "jbw-bench: add_agent failed\n"); return EXIT_FAILURE; }
	if (agent_count > 1) {
		int64_t spread = 8;
		while ((2 * spread + 1) * (2 * spread + 1) < (int64_t) agent_count) spread++;
		std::vector<position> cells;
		for (const position& cell : ring_order(spread))
			if (!blocked(*sim, cell) && cells.size() < agent_count) cells.push_back(cell);
		if (cells.size() < agent_count) { fprintf(stderr, "jbw-bench: no room for the agents\n"); return EXIT_FAILURE; }
		// Fill the farthest cells first, so that the origin stays free for the next add_agent.
		for (unsigned int i = 0; i < agent_count; i++) {
			if (i > 0 && sim->add_agent(ids[i], states[i]) != status::OK) { fprintf(stderr, "jbw-bench: add_agent failed\n"); return EXIT_FAILURE; }
			position target = cells[agent_count - 1 - i];
			if (target != states[i]->current_position) relocate(*sim, states[i], target);
		}
	}

	// The first step, then the timed ones.
	for (unsigned int i = 0; i < agent_count; i++) act(*sim, ids[i], rngs[i]);
	double first_step_s = std::chrono::duration<double>(clock::now() - started).count();
	auto steady = clock::now();
	for (uint64_t t = 1; t < steps; t++)
		for (unsigned int i = 0; i < agent_count; i++) act(*sim, ids[i], rngs[i]);
	double seconds = std::chrono::duration<double>(clock::now() - steady).count();
	if (sim->time != steps) { fprintf(stderr, "jbw-bench: ran %llu steps, not %llu\n", (unsigned long long) sim->time, (unsigned long long) steps); return EXIT_FAILURE; }

	// Sanity, untimed: items per cell of each type in the fixed patches.
	unsigned int k = (unsigned int) config.item_types.length;
	std::vector<uint64_t> counts(k, 0);
	uint64_t fixed_patches = 0;
	for (const auto& row : sim->get_world().patches)
		for (const auto& entry : row.value) {
			if (!entry.value.fixed) continue;
			fixed_patches++;
			for (const item& it : entry.value.items) counts[it.item_type]++;
		}
	double cells = (double) fixed_patches * config.patch_size * config.patch_size;

	printf("{\"case\":\"%s\",\"world\":\"%s\",\"agents\":%u,\"steps\":%llu,\"agent_steps_per_sec\":%.1f,\"first_step_s\":%.6f,"
		"\"fixed_patches\":%llu,\"items_per_cell\":{",
		policy.c_str(), world.c_str(), agent_count, (unsigned long long) steps,
		(double) (steps - 1) * agent_count / seconds, first_step_s, (unsigned long long) fixed_patches);
	for (unsigned int i = 0; i < k; i++)
		printf("%s\"%.*s\":%.5f", i ? "," : "", (int) config.item_types[i].name.length,
			config.item_types[i].name.data, cells > 0 ? counts[i] / cells : 0.0);
	printf("}}\n");
	delete sim;
	return EXIT_SUCCESS;
}
